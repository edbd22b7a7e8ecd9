"""Outbox, inbox, dead-lettering and consumer groups against the real broker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from podium_contracts.events import JoinData, JoinRequested, parse_event
from podium_contracts.topics import JOINS
from podium_runtime.outbox import new_event, new_event_run, row_payloads, unsent_events
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.testing import TestInfrastructure, eventually
from probe import ProbeSettings, build_probe, ledger_count, ledger_rows
from sqlalchemy import insert, select


def _join(competition_id: uuid.UUID | None = None) -> JoinRequested:
    event = new_event(
        JoinRequested,
        "probe",
        JoinData(
            request_id=uuid.uuid4(),
            competition_id=competition_id or uuid.uuid4(),
            user_id=uuid.uuid4(),
        ),
    )
    assert isinstance(event, JoinRequested)
    return event


async def _read_topic(
    settings: ProbeSettings, topic: str, want: int, timeout: float = 20.0
) -> list[Any]:
    """Read `topic` from the beginning until `want` records arrived (or time runs out)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < want and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records += part
    finally:
        await consumer.stop()
    return records


@pytest.fixture
async def relay_only(probe_settings: ProbeSettings) -> AsyncIterator[ServiceRuntime]:
    """A probe runtime whose broker and relay run, without consumers."""
    runtime = ServiceRuntime(probe_settings, build_probe(probe_settings).metadata)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_outbox_event_committed_with_state_reaches_kafka(
    relay_only: ServiceRuntime, probe_settings: ProbeSettings
) -> None:
    from probe import ledger

    competition = uuid.uuid4()
    committed, rolled_back = _join(competition), _join(competition)
    assert relay_only.outbox is not None
    async with relay_only.db.session() as session:
        await session.execute(
            insert(ledger).values(request_id=committed.data.request_id, handled_by="state")
        )
        await relay_only.outbox.add(session, committed)
    with pytest.raises(RuntimeError):
        async with relay_only.db.session() as session:
            await session.execute(
                insert(ledger).values(request_id=rolled_back.data.request_id, handled_by="state")
            )
            await relay_only.outbox.add(session, rolled_back)
            raise RuntimeError("the state change fails after the event was staged")

    topic = probe_settings.kafka_topic_prefix + JOINS.name
    records = await _read_topic(probe_settings, topic, want=10_000, timeout=4)
    mine = [r for r in records if r.key == str(competition).encode()]
    assert [json.loads(r.value)["id"] for r in mine] == [str(committed.id)]
    headers = dict(mine[0].headers)
    assert headers["event_type"] == b"join.requested"
    assert headers["correlation_id"] == committed.correlation_id.encode()
    async with relay_only.db.session() as session:
        assert await unsent_events(session, relay_only.outbox.table) == []
        assert (
            await session.scalar(
                select(ledger.c.id).where(ledger.c.request_id == rolled_back.data.request_id)
            )
            is None
        )


async def test_a_run_of_events_staged_together_shares_a_row_and_is_published_one_by_one(
    relay_only: ServiceRuntime, probe_settings: ProbeSettings
) -> None:
    """Events of one key and context staged in one call share a row (ADR 0097); each
    still reaches Kafka as its own message, in the order staged."""
    first, second = uuid.uuid4(), uuid.uuid4()
    run = [_join(first) for _ in range(5)] + [_join(second)] + [_join(first) for _ in range(2)]
    assert relay_only.outbox is not None
    async with relay_only.db.session() as session:
        await relay_only.outbox.add(session, *run)
        rows = (
            await session.execute(
                select(relay_only.outbox.table)
                .where(relay_only.outbox.table.c.event_id.in_([e.id for e in run]))
                .order_by(relay_only.outbox.table.c.seq)
            )
        ).all()
    # A change of key ends a row: three rows, holding 5, 1 and 2 events.
    assert [len(row_payloads(row.payload)) for row in rows] == [5, 1, 2]
    assert [row.key for row in rows] == [str(first), str(second), str(first)]

    topic = probe_settings.kafka_topic_prefix + JOINS.name
    records = await _read_topic(probe_settings, topic, want=10_000, timeout=4)
    mine = [r for r in records if r.key in (str(first).encode(), str(second).encode())]
    assert [json.loads(r.value)["id"] for r in mine if r.key == str(first).encode()] == [
        str(e.id) for e in run if e.data.competition_id == first
    ]
    assert sorted(json.loads(r.value)["id"] for r in mine) == sorted(str(e.id) for e in run)
    assert all(dict(r.headers)["event_type"] == b"join.requested" for r in mine)
    async with relay_only.db.session() as session:
        assert await unsent_events(session, relay_only.outbox.table) == []


async def test_an_event_run_reaches_kafka_as_the_events_it_stands_for(
    relay_only: ServiceRuntime, probe_settings: ProbeSettings
) -> None:
    """An `EventRun` (ADR 0099, 0102) is staged as compact lines and published as its
    events: on Kafka each is its own message, keyed by its own partition key, with the
    run's headers and context."""
    first, second = uuid.uuid4(), uuid.uuid4()
    data = [
        {"request_id": uuid.uuid4(), "competition_id": board, "user_id": uuid.uuid4()}
        for board in (first, first, second, first)
    ]
    run = new_event_run(
        JoinRequested,
        "probe",
        {"invite_code": None},
        {
            name: [str(d[name]) for d in data]
            for name in ("request_id", "competition_id", "user_id")
        },
    )
    assert run is not None and relay_only.outbox is not None
    async with relay_only.db.session() as session:
        await relay_only.outbox.add(session, run, _join(second))

    topic = probe_settings.kafka_topic_prefix + JOINS.name
    records = await _read_topic(probe_settings, topic, want=10_000, timeout=4)
    wanted = {str(d["request_id"]) for d in data}
    mine = [
        (r, parse_event(r.value))
        for r in records
        if json.loads(r.value)["data"]["request_id"] in wanted
    ]
    assert sorted(str(e.data.request_id) for _, e in mine) == sorted(wanted)
    for record, event in mine:
        assert record.key == str(event.data.competition_id).encode()
        assert dict(record.headers)["event_type"] == b"join.requested"
        assert (event.correlation_id, event.occurred_at) == (
            run.first.correlation_id,
            run.first.occurred_at,
        )
    # Kafka keeps a key's order: the three of `first` arrive as they were staged.
    assert [str(e.data.request_id) for r, e in mine if r.key == str(first).encode()] == [
        str(d["request_id"]) for d in data if d["competition_id"] == first
    ]
    assert len({e.id for _, e in mine}) == len(data)


class _CrashAfterPublish(Exception):
    """Simulates the relay dying after the broker acknowledged, before marking rows sent."""


async def test_crash_between_publish_and_mark_sent_is_absorbed_by_the_inbox(
    probe_settings: ProbeSettings,
) -> None:
    consumer_runtime = build_probe(probe_settings, "inbox")
    consumer_runtime.relay = None  # only the relay driven below may publish the probe's outbox
    producer_runtime = ServiceRuntime(probe_settings, consumer_runtime.metadata)
    await producer_runtime.broker.start()  # broker only: the relay is driven by hand
    await consumer_runtime.start()
    try:
        assert producer_runtime.relay is not None and producer_runtime.outbox is not None
        event = _join()
        async with producer_runtime.db.session() as session:
            await producer_runtime.outbox.add(session, event)

        real_publish = producer_runtime.relay.publish

        async def publish_then_crash(*args: Any) -> Any:
            ack = await real_publish(*args)

            async def acked_then_crash() -> None:
                await ack
                raise _CrashAfterPublish

            return acked_then_crash()

        producer_runtime.relay.publish = publish_then_crash
        with pytest.raises(_CrashAfterPublish):
            await producer_runtime.relay.relay_once()
        producer_runtime.relay.publish = real_publish
        # The row is still unsent, so the next relay run publishes it a second time.
        assert await producer_runtime.relay.relay_once() >= 1

        topic = probe_settings.kafka_topic_prefix + JOINS.name
        records = await _read_topic(probe_settings, topic, want=10_000, timeout=4)
        copies = [r for r in records if json.loads(r.value)["id"] == str(event.id)]
        assert len(copies) == 2

        await eventually(
            lambda: ledger_rows(consumer_runtime, {event.data.request_id}),
            message="the event is handled",
        )

        # Wait until both copies were consumed: the group's committed offset passes both.
        await eventually(
            lambda: _consumed_past(consumer_runtime, copies),
            timeout=20,
            message="both copies consumed",
        )
        rows = await ledger_rows(consumer_runtime, {event.data.request_id})
        assert rows == [(event.data.request_id, "inbox")]
    finally:
        await consumer_runtime.stop()
        await producer_runtime.broker.stop()
        await producer_runtime.database.dispose()  # type: ignore[union-attr]


async def _consumed_past(runtime: ServiceRuntime, records: list[Any]) -> bool:
    """True when the runtime's consumer position is beyond every record in `records`."""
    assert runtime.consumer is not None
    for subscriber in runtime.consumer.subscribers:
        consumer = subscriber.consumer
        if consumer is None:
            return False
        for record in records:
            from aiokafka import TopicPartition

            tp = TopicPartition(record.topic, record.partition)
            if tp not in consumer.assignment():
                return False
            if await consumer.position(tp) <= record.offset:
                return False
    return True


async def test_poison_message_goes_to_dead_letter_and_consumer_moves_on(
    probe_settings: ProbeSettings,
) -> None:
    doomed = uuid.uuid4()
    runtime = build_probe(probe_settings, "dlq", fail_for={doomed})
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=probe_settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        topic = probe_settings.kafka_topic_prefix + JOINS.name
        key = str(uuid.uuid4()).encode()
        garbage = b"\x00not json at all" + uuid.uuid4().bytes
        failing = _join()
        failing = failing.model_copy(
            update={"data": failing.data.model_copy(update={"request_id": doomed})}
        )
        after = _join()
        await producer.send_and_wait(topic, garbage, key=key)
        await producer.send_and_wait(topic, failing.model_dump_json().encode(), key=key)
        await producer.send_and_wait(topic, after.model_dump_json().encode(), key=key)

        rows = await eventually(
            lambda: ledger_rows(runtime, {after.data.request_id}),
            message="the message after the poison is handled",
        )
        assert rows == [(after.data.request_id, "dlq")]
        dead = await _read_topic(probe_settings, topic + ".dlq", want=10_000, timeout=4)
        by_value = {r.value: dict(r.headers) for r in dead}
        assert by_value[garbage]["x-error-code"] == b"MALFORMED_MESSAGE"
        failed_headers = by_value[failing.model_dump_json().encode()]
        assert failed_headers["x-error-code"] == b"RuntimeError"
        assert b"cannot cope" in failed_headers["x-error-detail"]
        assert failed_headers["x-attempts"] == str(probe_settings.consumer_max_attempts).encode()
        assert failed_headers["x-original-topic"] == topic.encode()
        assert await ledger_rows(runtime, {doomed}) == []
    finally:
        await producer.stop()
        await runtime.stop()


async def test_two_consumers_in_one_group_split_partitions_and_process_each_event_once(
    probe_settings: ProbeSettings, test_infra: TestInfrastructure
) -> None:
    # Own topics: a new group reads from the earliest offset, and the ledger count below
    # must not include the messages earlier tests left on the shared probe topics.
    settings = probe_settings.model_copy(
        update={"service_name": "probe-pair", "kafka_topic_prefix": await test_infra.fresh_topics()}
    )
    first, second = build_probe(settings, "first"), build_probe(settings, "second")
    await first.start()
    await second.start()
    try:
        before = await ledger_count(first)
        events = [_join() for _ in range(60)]
        await first.publisher.publish(*events)
        ids = {e.data.request_id for e in events}

        async def all_handled() -> list[tuple[uuid.UUID, str]] | None:
            rows = await ledger_rows(first, ids)
            return rows if len(rows) >= len(ids) else None

        rows = await eventually(all_handled, timeout=60, message="all 60 events handled")
        assert sorted(r[0] for r in rows) == sorted(ids)  # each exactly once
        assert {r[1] for r in rows} == {"first", "second"}  # both instances worked
        assigned = [
            sub.consumer.assignment() for rt in (first, second) for sub in rt.consumer.subscribers
        ]  # type: ignore[union-attr]
        assert assigned[0] and assigned[1] and not (assigned[0] & assigned[1])
        assert await ledger_count(first) == before + len(ids)
    finally:
        await first.stop()
        await second.stop()


async def test_two_relays_on_one_outbox_publish_each_event_once(
    probe_settings: ProbeSettings,
) -> None:
    """SKIP LOCKED claims: replicas relaying the same outbox never publish a row twice."""
    first = ServiceRuntime(probe_settings, build_probe(probe_settings).metadata)
    second = ServiceRuntime(probe_settings, first.metadata)
    await first.broker.start()
    await second.broker.start()
    try:
        assert first.outbox is not None and first.relay is not None
        assert second.relay is not None
        # One competition each, so each event is its own row (a run of one key shares one).
        events = [_join() for _ in range(400)]
        keys = {str(e.data.competition_id).encode() for e in events}
        for offset in range(0, len(events), 100):
            async with first.db.session() as session:
                await first.outbox.add(session, *events[offset : offset + 100])
        first.relay.batch_size = second.relay.batch_size = 25
        # The first relay holds its first claim (its rows locked) until the second has
        # moved a batch: the second must skip those rows, not wait for them.
        second_moved = asyncio.Event()
        publish = first.relay.publish

        async def held(*args: Any) -> Any:
            await second_moved.wait()
            return await publish(*args)

        first.relay.publish = held

        async def drain(relay: Any, moved_once: asyncio.Event | None = None) -> int:
            moved = 0
            while True:
                batch = await relay.relay_once()
                if not batch and not await relay.backlog():
                    return moved
                moved += batch
                if batch and moved_once is not None:
                    moved_once.set()

        # A second relay that waited for the held rows instead of skipping them would
        # never move a batch: the time limit then ends both drains.
        async with asyncio.timeout(30), asyncio.TaskGroup() as group:
            drains = [
                group.create_task(drain(first.relay)),
                group.create_task(drain(second.relay, second_moved)),
            ]
        moved = [task.result() for task in drains]
        assert sum(moved) == len(events) and all(moved)  # both replicas took a share
        topic = probe_settings.kafka_topic_prefix + JOINS.name
        records = await _read_topic(probe_settings, topic, want=10_000, timeout=5)
        ids = [json.loads(r.value)["id"] for r in records if r.key in keys]
        assert sorted(ids) == sorted(str(e.id) for e in events)  # every event, exactly once
    finally:
        for runtime in (first, second):
            await runtime.broker.stop()
            await runtime.db.dispose()
            await runtime.redis.aclose()


async def test_a_relay_never_waits_behind_rows_staged_for_another_topic_prefix(
    probe_settings: ProbeSettings,
) -> None:
    """Two deployments share a database, not topics: a row for topics that no longer
    exist (the other's, deleted) is neither claimed nor allowed to block this one's."""
    gone = probe_settings.model_copy(update={"kafka_topic_prefix": f"t{uuid.uuid4().hex[:10]}."})
    other = ServiceRuntime(gone, build_probe(probe_settings).metadata)
    mine = ServiceRuntime(probe_settings, other.metadata)
    await mine.broker.start()
    try:
        assert other.outbox is not None and mine.outbox is not None and mine.relay is not None
        stranded, fresh = _join(), _join()
        async with other.db.session() as session:
            await other.outbox.add(session, stranded)  # staged first: oldest in the table
        async with mine.db.session() as session:
            await mine.outbox.add(session, fresh)

        assert await asyncio.wait_for(mine.relay.relay_once(), timeout=15) == 1
        assert await mine.relay.backlog() == 0
        async with mine.db.session() as session:
            unsent = [row.event_id for row in await unsent_events(session, mine.outbox.table)]
        assert stranded.id in unsent and fresh.id not in unsent
        topic = probe_settings.kafka_topic_prefix + JOINS.name
        records = await _read_topic(probe_settings, topic, want=10_000, timeout=4)
        key = str(fresh.data.competition_id).encode()
        assert [json.loads(r.value)["id"] for r in records if r.key == key] == [str(fresh.id)]
    finally:
        await mine.broker.stop()
        for runtime in (mine, other):
            await runtime.db.dispose()
            await runtime.redis.aclose()

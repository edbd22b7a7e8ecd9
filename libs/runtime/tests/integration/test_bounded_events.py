"""Bounded events: refused when they enter the outbox; a row the broker refuses never blocks."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import APIRouter
from podium_contracts.events import JoinData, JoinRequested
from podium_contracts.topics import JOINS
from podium_runtime.deps import OutboxDep, SessionDep
from podium_runtime.metrics import OUTBOX_UNDELIVERABLE
from podium_runtime.outbox import (
    UNDELIVERABLE_HEADER,
    EventTooLarge,
    Outbox,
    event_headers,
    new_event,
    row_payloads,
    undeliverable_events,
    unsent_events,
)
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.testing import TestInfrastructure, eventually, serve
from probe import ProbeSettings, build_probe
from sqlalchemy import insert
from test_messaging import _join, _read_topic


@pytest.fixture(scope="module")
async def own_settings(
    probe_settings: ProbeSettings, test_infra: TestInfrastructure
) -> ProbeSettings:
    """Probe settings on topics of this module's own: its poison must reach no other suite."""
    return probe_settings.model_copy(update={"kafka_topic_prefix": await test_infra.fresh_topics()})


def _padded_join(competition: uuid.UUID, size: int) -> JoinRequested:
    """A join request whose invite code pads the envelope to about `size` bytes."""
    event = new_event(
        JoinRequested,
        "probe",
        JoinData(
            request_id=uuid.uuid4(),
            competition_id=competition,
            user_id=uuid.uuid4(),
            invite_code="x" * size,
        ),
    )
    assert isinstance(event, JoinRequested)
    return event


async def test_an_event_too_large_for_the_broker_is_refused_when_staged(
    own_settings: ProbeSettings,
) -> None:
    runtime = build_probe(own_settings)
    router = APIRouter()

    @router.post("/joins")
    async def stage(session: SessionDep, outbox: OutboxDep, size: int) -> dict[str, str]:
        await outbox.add(session, _padded_join(uuid.uuid4(), size))
        return {"status": "staged"}

    app = runtime.create_app(title="probe", description="probe", routers=[router])
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/joins", params={"size": 1000})).status_code == 200
        refused = await client.post("/joins", params={"size": 2_000_000})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "EVENT_TOO_LARGE"
        assert refused.json()["limit"] == own_settings.outbox_max_event_bytes
    assert runtime.outbox is not None
    async with runtime.db.session() as session:
        with pytest.raises(EventTooLarge):
            await runtime.outbox.add(session, _padded_join(uuid.uuid4(), 2_000_000))


async def test_the_relay_moves_a_row_the_broker_refuses_aside_and_publishes_the_rest(
    own_settings: ProbeSettings,
) -> None:
    runtime = ServiceRuntime(own_settings, build_probe(own_settings).metadata)
    await runtime.broker.start()  # the relay is driven by hand
    try:
        assert runtime.outbox is not None and runtime.relay is not None
        competition = uuid.uuid4()
        before, after = _join(competition), _join(competition)
        # A row staged before the outbox checked sizes, larger than Kafka accepts.
        huge = _padded_join(competition, 1_200_000)
        topic = own_settings.kafka_topic_prefix + JOINS.name
        async with runtime.db.session() as session:
            await runtime.outbox.add(session, before)
            await session.execute(
                insert(runtime.outbox.table).values(
                    event_id=huge.id,
                    topic=topic,
                    key=huge.partition_key(),
                    event_type=huge.type,
                    payload=huge.model_dump_json(),
                    headers=event_headers(huge),
                )
            )
            await runtime.outbox.add(session, after)
        refused_before = OUTBOX_UNDELIVERABLE.labels(topic)._value.get()

        errors: list[str] = []

        async def drained() -> bool:
            try:
                await runtime.relay.relay_once()  # the old relay failed this batch forever
            except Exception as exc:  # an outage of the broker: the pass is tried again
                errors.append(f"{type(exc).__name__}: {exc}")
            async with runtime.db.session() as session:
                unsent = await unsent_events(session, runtime.outbox.table)
            return not [r for r in unsent if r.topic == topic]

        try:
            await eventually(drained, timeout=30, message="the relay drained the outbox")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the relay's last errors: {errors[-5:]}") from None
        async with runtime.db.session() as session:
            aside = await undeliverable_events(session, runtime.outbox.table)
        mine = [r for r in aside if r.event_id == huge.id]
        assert len(mine) == 1
        assert "TooLarge" in mine[0].headers[UNDELIVERABLE_HEADER]
        assert OUTBOX_UNDELIVERABLE.labels(topic)._value.get() == refused_before + 1

        records = await _read_topic(own_settings, topic, want=10_000, timeout=4)
        ids = [json.loads(r.value)["id"] for r in records if r.key == str(competition).encode()]
        assert ids == [str(before.id), str(after.id)]  # in order, the refused one left out
    finally:
        await runtime.broker.stop()
        await runtime.db.dispose()
        await runtime.redis.aclose()


async def test_a_run_of_events_fills_rows_of_about_the_event_limit_each(
    own_settings: ProbeSettings,
) -> None:
    """A run of one key shares rows (ADR 0097), but no row grows past about the limit of
    one event: the relay's claims stay as bounded as they were with a row per event."""
    runtime = build_probe(own_settings)
    assert runtime.outbox is not None
    outbox = Outbox(runtime.outbox.table, own_settings.kafka_topic_prefix, max_event_bytes=5_000)
    competition = uuid.uuid4()
    run = [_padded_join(competition, 800) for _ in range(12)]

    class _Undo(Exception):
        """Rolls the staged rows back: no relay is to publish them."""

    with pytest.raises(_Undo):
        async with runtime.db.session() as session:
            await outbox.add(session, *run)
            rows = await unsent_events(session, outbox.table)
            mine = sorted((r for r in rows if r.key == str(competition)), key=lambda r: r.seq)
            assert all(len(r.payload) <= 5_000 for r in mine)
            assert len(mine) > 1
            staged = [json.loads(doc)["id"] for r in mine for doc in row_payloads(r.payload)]
            assert staged == [str(e.id) for e in run]  # every event once, in order
            # A row's `event_id` is its first event's.
            firsts = [json.loads(row_payloads(r.payload)[0])["id"] for r in mine]
            assert [str(r.event_id) for r in mine] == firsts
            raise _Undo
    await runtime.db.dispose()
    await runtime.redis.aclose()

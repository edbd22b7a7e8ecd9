"""Failure model: outages hold messages rather than dead-letter them; bad records never loop."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter
from podium_contracts.topics import JOINS
from podium_runtime.deps import SessionDep
from podium_runtime.faultlink import FaultLink
from podium_runtime.metrics import CONSUMER_OUTAGE_RETRIES, EVENTS_DEAD_LETTERED
from podium_runtime.testing import TestInfrastructure, eventually, serve
from probe import ProbeSettings, build_batch_probe, build_probe, ledger_rows
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError
from test_messaging import _join, _read_topic


@pytest.fixture(scope="module")
async def own_settings(
    probe_settings: ProbeSettings, test_infra: TestInfrastructure
) -> ProbeSettings:
    """Probe settings on topics of this module's own: its poison must reach no other suite."""
    return probe_settings.model_copy(update={"kafka_topic_prefix": await test_infra.fresh_topics()})


@pytest.fixture
async def database_link(own_settings: ProbeSettings) -> AsyncIterator[FaultLink]:
    """A link between the probe and its real database that the test can break."""
    link = await FaultLink.to_database(own_settings.database_url).start()
    yield link
    await link.stop()


def _through(settings: ProbeSettings, link: FaultLink, name: str) -> ProbeSettings:
    return settings.model_copy(
        update={
            "service_name": name,
            "database_url": link.database_url(settings.database_url),
            "consumer_outage_backoff_max_seconds": 0.2,
            "health_timeout_seconds": 0.5,
        }
    )


def _counter(metric: object, topic: str) -> float:
    return float(metric.labels(topic)._value.get())  # type: ignore[attr-defined]


async def test_database_outage_holds_messages_until_it_is_back_and_dead_letters_none(
    own_settings: ProbeSettings, database_link: FaultLink
) -> None:
    settings = _through(own_settings, database_link, "probe-outage")
    runtime = build_probe(settings, "outage")
    topic = settings.kafka_topic_prefix + JOINS.name
    await runtime.start()
    try:
        database_link.cut()
        retries_before = _counter(CONSUMER_OUTAGE_RETRIES, topic)
        dead_before = _counter(EVENTS_DEAD_LETTERED, topic)
        events = [_join() for _ in range(5)]
        await runtime.publisher.publish(*events)

        # Far more tries than the bounded attempts: the old consumer dead-lettered after 3.
        want = retries_before + 4 * settings.consumer_max_attempts

        async def outage_retried() -> bool:
            return _counter(CONSUMER_OUTAGE_RETRIES, topic) >= want

        await eventually(outage_retried, timeout=60, message="the consumer keeps retrying")
        assert database_link.refused > 0
        database_link.restore()

        ids = {e.data.request_id for e in events}

        async def all_handled() -> list[tuple[uuid.UUID, str]] | None:
            rows = await ledger_rows(runtime, ids)
            return rows if len(rows) >= len(ids) else None

        rows = await eventually(all_handled, timeout=60, message="every event handled")
        assert sorted(r[0] for r in rows) == sorted(ids)  # each exactly once
        assert _counter(EVENTS_DEAD_LETTERED, topic) == dead_before
    finally:
        database_link.restore()
        await runtime.stop()


async def test_requests_during_a_database_outage_answer_503_with_retry_after(
    own_settings: ProbeSettings, database_link: FaultLink
) -> None:
    settings = _through(own_settings, database_link, "probe-http")
    runtime = build_probe(settings)
    router = APIRouter()

    @router.get("/count")
    async def count(session: SessionDep) -> dict[str, int]:
        return {"one": int(await session.scalar(text("SELECT 1")) or 0)}

    @router.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    app = runtime.create_app(title="probe", description="probe", routers=[router])
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/count")).json() == {"one": 1}
        database_link.cut()
        down = await client.get("/count")
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["code"] == "SERVICE_UNAVAILABLE"
        assert int(down.headers["retry-after"]) > 0
        assert down.headers["x-request-id"]
        database_link.restore()

        async def back() -> bool:
            return (await client.get("/count")).status_code == 200

        await eventually(back, timeout=20, message="answers again once the database is back")
        # A bug is still a 500, and it carries the request id like every other answer.
        bug = await client.get("/broken", headers={"X-Request-ID": "bug-1"})
        assert bug.status_code == 500
        assert bug.json()["code"] == "INTERNAL_ERROR"
        assert bug.headers["x-request-id"] == "bug-1"


async def test_envelopes_that_cannot_be_routed_are_dead_lettered_and_the_partition_moves_on(
    own_settings: ProbeSettings,
) -> None:
    runtime = build_probe(own_settings.model_copy(update={"service_name": "probe-poison"}))
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=own_settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        topic = own_settings.kafka_topic_prefix + JOINS.name
        key = str(uuid.uuid4()).encode()
        marker = str(uuid.uuid4())
        poisons = [
            {"type": {"join.requested": 1}, "version": 1, "marker": marker},
            {"type": ["join.requested"], "version": 1, "marker": marker},
            {"type": "join.requested", "version": {"1": 1}, "marker": marker},
            {"type": "join.requested", "version": True, "marker": marker},
            [marker],
            marker,
        ]
        for poison in poisons:
            await producer.send_and_wait(topic, json.dumps(poison).encode(), key=key)
        after = _join()
        await producer.send_and_wait(topic, after.model_dump_json().encode(), key=key)

        await eventually(
            lambda: ledger_rows(runtime, {after.data.request_id}),
            timeout=30,
            message="the event behind the poison is handled",
        )
        dead = await _read_topic(own_settings, topic + ".dlq", want=10_000, timeout=4)
        codes = [dict(r.headers)["x-error-code"] for r in dead if marker.encode() in r.value]
        assert codes == [b"MALFORMED_MESSAGE"] * len(poisons)
    finally:
        await producer.stop()
        await runtime.stop()


async def test_a_batch_consumer_handles_an_event_published_without_type_headers(
    own_settings: ProbeSettings,
) -> None:
    settings = own_settings.model_copy(update={"service_name": "probe-headerless"})
    runtime = build_batch_probe(settings, fail_for=set())
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        topic = settings.kafka_topic_prefix + JOINS.name
        event = _join()
        await producer.send_and_wait(
            topic, event.model_dump_json().encode(), key=event.partition_key().encode()
        )
        rows = await eventually(
            lambda: ledger_rows(runtime, {event.data.request_id}),
            timeout=30,
            message="the headerless event is handled",
        )
        assert rows == [(event.data.request_id, "batch")]
    finally:
        await producer.stop()
        await runtime.stop()


async def test_database_errors_do_not_carry_the_values_of_the_statement(
    own_settings: ProbeSettings,
) -> None:
    """Regression: a failed INSERT logged its parameters (an argon2 hash, an e-mail)."""
    from probe import messaging

    runtime = build_probe(own_settings)
    secret = f"secret-{uuid.uuid4().hex}"
    row = {"event_id": uuid.uuid4(), "consumer": secret, "event_type": "t"}
    try:
        async with runtime.db.session() as session:
            await session.execute(insert(messaging.inbox).values(**row))
        with pytest.raises(IntegrityError) as caught:
            async with runtime.db.session() as session:
                await session.execute(insert(messaging.inbox).values(**row))
        assert secret not in str(caught.value)
    finally:
        await runtime.db.dispose()
        await runtime.redis.aclose()

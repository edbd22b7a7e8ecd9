"""Ingest consumes accepted statements: raw + flattened rows, voiding, facts emitted (SPEC §5.4)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from podium_contracts.events import StatementsData, StatementsReceived
from podium_contracts.redis_keys import xapi_claim_key
from podium_contracts.statement_index import index_positions, statement_index_key
from podium_contracts.topics import XAPI_STATEMENTS
from podium_ingest.app import create_api
from podium_ingest.config import Settings
from podium_ingest.service import STATEMENTS_RECORDED
from podium_ingest.statement_index import StatementIndex
from podium_runtime.metrics import EVENTS_DEAD_LETTERED
from podium_runtime.outbox import new_event, staged_events
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.service_credentials import auth_for
from podium_runtime.testing import TestInfrastructure, eventually, serve
from sqlalchemy import text

PLATFORM = "http://podium.test"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(scope="module")
async def ingest(test_infra: TestInfrastructure) -> AsyncIterator[tuple[str, ServiceRuntime]]:
    await test_infra.migrate("ingest")
    settings = test_infra.settings(Settings, platform_url=PLATFORM)
    app = create_api(settings)
    async with serve(app) as url:
        yield url, app.state.runtime


def _statement(actor: dict[str, Any], **extra: Any) -> dict[str, Any]:
    stored = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": "http://podium.test/lesson"},
        "timestamp": "2024-06-01T23:30:00-04:00",
        "stored": stored,
        "authority": {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": "tool"}},
        "version": "1.0.0",
        **extra,
    }


async def _publish(runtime: ServiceRuntime, actor: str, *statements: dict[str, Any]) -> Any:
    event = new_event(
        StatementsReceived,
        "gateway",
        StatementsData(actor=actor, lrs_client_id=uuid.uuid4(), statements=list(statements)),
    )
    await runtime.publisher.publish(event)
    return event


async def _rows(runtime: ServiceRuntime, sql: str, **params: Any) -> list[Any]:
    async with runtime.db.session() as session:
        return list((await session.execute(text(sql), params)).all())


async def _facts_emitted(runtime: ServiceRuntime, statement_id: str) -> list[dict[str, Any]]:
    assert runtime.outbox is not None
    async with runtime.db.session() as session:
        staged = await staged_events(session, runtime.outbox.table, "learning.statements_recorded")
    return [
        fact
        for event in staged
        for fact in event["data"]["facts"]
        if fact["statement_id"] == statement_id
    ]


async def test_statement_is_stored_flattened_and_announced_once(
    ingest: tuple[str, ServiceRuntime],
) -> None:
    url, runtime = ingest
    user_id = uuid.uuid4()
    actor = {"account": {"homePage": PLATFORM, "name": str(user_id)}}
    sent = _statement(
        actor,
        result={
            "score": {"scaled": 0.9},
            "success": True,
            "completion": True,
            "duration": "PT1M30S",
        },
        context={"registration": str(uuid.uuid4())},
    )
    counted_before = STATEMENTS_RECORDED._value.get()
    event = await _publish(runtime, f"account:{PLATFORM}|{user_id}", sent)
    await runtime.publisher.publish(event)  # redelivery of the same event

    facts = await eventually(lambda: _facts_emitted(runtime, sent["id"]), message="fact emitted")
    row = (
        await _rows(
            runtime,
            "SELECT user_id, verb_id, activity_id, scaled_score, success, completion, "
            "duration_seconds, registration, voided FROM ingest.statement_facts "
            "WHERE statement_id = :sid",
            sid=sent["id"],
        )
    )[0]
    assert row == (
        user_id,
        sent["verb"]["id"],
        sent["object"]["id"],
        0.9,
        True,
        True,
        90.0,
        uuid.UUID(sent["context"]["registration"]),
        False,
    )
    assert facts[0]["user_id"] == str(user_id) and facts[0]["voided"] is False
    async with httpx.AsyncClient(base_url=url, auth=auth_for(runtime.settings)) as client:
        got = await client.get(f"/internal/statements/{sent['id']}")
        assert got.json() == sent
        report = await client.get(
            f"/internal/reports/learners/{user_id}/activity",
            params={"timezone": "America/New_York"},
        )
        # 23:30 at UTC-4 on 1 June is that learner's 1 June, though 2 June in UTC.
        assert report.json()["days"] == [
            {"date": "2024-06-01", "statements": 1, "completed": 1, "succeeded": 1, "activities": 1}
        ]
        bad_zone = await client.get(
            f"/internal/reports/learners/{user_id}/activity", params={"timezone": "Mars/Base"}
        )
        assert bad_zone.status_code == 400
    # The duplicate event had no second effect.
    await eventually(lambda: _all_consumed(runtime), message="both copies consumed")
    assert len(await _facts_emitted(runtime, sent["id"])) == 1
    # Counted once, after its commit (events carry many statements: ADR 0068).
    assert STATEMENTS_RECORDED._value.get() == counted_before + 1


async def _all_consumed(runtime: ServiceRuntime) -> bool:
    assert runtime.consumer is not None
    for subscriber in runtime.consumer.subscribers:
        consumer = subscriber.consumer
        for tp in consumer.assignment():
            if await consumer.position(tp) < (consumer.highwater(tp) or 0):
                return False
    return True


async def test_voiding_before_its_target_arrives_voids_the_target_on_arrival(
    ingest: tuple[str, ServiceRuntime],
) -> None:
    url, runtime = ingest
    learner = {"mbox": f"mailto:{uuid.uuid4().hex}@podium.test"}
    admin = {"mbox": "mailto:admin@podium.test"}
    target = _statement(learner)
    voiding = _statement(
        admin, verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": target["id"]}
    )
    # Different actors travel on different partitions: the voiding may be stored first.
    await _publish(runtime, "mbox:mailto:admin@podium.test", voiding)
    await eventually(lambda: _facts_emitted(runtime, voiding["id"]), message="voiding stored")
    await _publish(runtime, f"mbox:{learner['mbox']}", target)
    facts = await eventually(lambda: _facts_emitted(runtime, target["id"]), message="target")
    assert facts[0]["voided"] is True
    async with httpx.AsyncClient(base_url=url, auth=auth_for(runtime.settings)) as client:
        hidden = await client.get(f"/internal/statements/{target['id']}")
        kept = await client.get(f"/internal/statements/{target['id']}", params={"voided": "true"})
    assert hidden.status_code == 404 and kept.status_code == 200


async def test_voiding_a_stored_statement_announces_it_voided_but_never_voids_a_voiding(
    ingest: tuple[str, ServiceRuntime],
) -> None:
    _, runtime = ingest
    learner = {"mbox": f"mailto:{uuid.uuid4().hex}@podium.test"}
    target = _statement(learner)
    await _publish(runtime, f"mbox:{learner['mbox']}", target)
    await eventually(lambda: _facts_emitted(runtime, target["id"]), message="target stored")
    voiding = _statement(
        learner, verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": target["id"]}
    )
    voids_voiding = _statement(
        learner, verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": voiding["id"]}
    )
    await _publish(runtime, f"mbox:{learner['mbox']}", voiding, voids_voiding)

    async def announced_voided() -> bool:
        return [f["voided"] for f in await _facts_emitted(runtime, target["id"])] == [False, True]

    await eventually(announced_voided, message="the target is announced voided")
    voided = await _rows(
        runtime,
        "SELECT statement_id, voided FROM ingest.statement_facts WHERE statement_id IN (:a, :b)",
        a=target["id"],
        b=voiding["id"],
    )
    assert dict(voided) == {uuid.UUID(target["id"]): True, uuid.UUID(voiding["id"]): False}


async def _dead_letters(runtime: ServiceRuntime, want: int) -> list[Any]:
    """Read the statements dead-letter topic from the beginning (until `want` records)."""
    from aiokafka import AIOKafkaConsumer
    from podium_contracts.topics import XAPI_STATEMENTS

    settings = runtime.settings
    consumer = AIOKafkaConsumer(
        settings.kafka_topic_prefix + XAPI_STATEMENTS.dead_letter,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:

        async def enough() -> bool:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(part)
            return len(records) >= want

        await eventually(enough, message="dead letters arrive")
    finally:
        await consumer.stop()
    return records


async def test_a_statement_that_cannot_be_stored_is_refused_alone_and_its_claim_released(
    ingest: tuple[str, ServiceRuntime],
) -> None:
    """Regression: one NUL statement dead-lettered every statement of its actor in the request,
    and the gateway's claim kept its id "committed" although nothing was stored."""
    _, runtime = ingest
    learner = {"mbox": f"mailto:{uuid.uuid4().hex}@podium.test"}
    actor = f"mbox:{learner['mbox']}"
    before, after = _statement(learner), _statement(learner)
    broken = _statement(learner)
    del broken["stored"]  # every accepted statement has one; this cannot be stored
    nul = _statement(learner, result={"response": "a\u0000b"})
    claim = xapi_claim_key(nul["id"], runtime.settings.gateway_redis_key_prefix)
    await runtime.redis.set(claim, "hash:c")
    events = [
        new_event(
            StatementsReceived,
            "gateway",
            StatementsData(actor=actor, lrs_client_id=uuid.uuid4(), statements=statements),
        )
        for statements in ([before], [broken, nul, after])
    ]
    topic = runtime.settings.kafka_topic_prefix + XAPI_STATEMENTS.name
    dead_before = EVENTS_DEAD_LETTERED.labels(topic)._value.get()
    # One send: the events, and a redelivered copy of the first, share a poll.
    await runtime.publisher.publish(*events, events[0])

    await eventually(lambda: _facts_emitted(runtime, after["id"]), message="after is stored")
    stored = await _rows(
        runtime,
        "SELECT id FROM ingest.statements WHERE id IN (:a, :b, :c, :d)",
        a=before["id"],
        b=broken["id"],
        c=after["id"],
        d=nul["id"],
    )
    assert {r[0] for r in stored} == {uuid.UUID(before["id"]), uuid.UUID(after["id"])}
    assert len(await _facts_emitted(runtime, before["id"])) == 1  # the copy had no effect

    async def released() -> bool:
        return not await runtime.redis.exists(claim)

    await eventually(released, message="the refused statement's claim is released")
    assert EVENTS_DEAD_LETTERED.labels(topic)._value.get() == dead_before


async def test_stored_ids_are_added_to_the_index_the_gateway_reads(
    ingest: tuple[str, ServiceRuntime],
) -> None:
    """ADR 0059: while the index exists, every stored id has all its bits set."""
    _, runtime = ingest
    index = StatementIndex(
        runtime.redis,
        runtime.settings.gateway_redis_key_prefix,
        runtime.settings.statement_index_bits,
    )
    await eventually(index.exists, message="the index is built at start")
    learner = {"mbox": f"mailto:{uuid.uuid4().hex}@podium.test"}
    sent = _statement(learner)
    await _publish(runtime, f"mbox:{learner['mbox']}", sent)
    await eventually(lambda: _facts_emitted(runtime, sent["id"]), message="stored")
    key = statement_index_key(runtime.settings.gateway_redis_key_prefix)
    bits = int(await runtime.redis.strlen(key)) * 8
    assert bits == runtime.settings.statement_index_bits
    assert [await runtime.redis.getbit(key, p % bits) for p in index_positions(sent["id"])] == [
        1
    ] * len(index_positions(sent["id"]))

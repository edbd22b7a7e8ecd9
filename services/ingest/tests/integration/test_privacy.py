"""Erasure of a learner and retention of statements, on real Postgres and Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from podium_contracts.actors import actor_key
from podium_contracts.events import StatementsData, StatementsReceived
from podium_ingest.app import create_api
from podium_ingest.config import Settings
from podium_ingest.privacy.commands import erase_command, purge_expired
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.testing import TestInfrastructure, eventually, serve
from sqlalchemy import text

PLATFORM = "http://podium.test"


@pytest.fixture(scope="module")
async def ingest(test_infra: TestInfrastructure) -> AsyncIterator[tuple[Settings, ServiceRuntime]]:
    await test_infra.migrate("ingest")
    settings = test_infra.settings(Settings, platform_url=PLATFORM, statement_retention_days=30)
    app = create_api(settings)
    async with serve(app):
        yield settings, app.state.runtime


def _statement(actor: dict[str, Any], stored: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": "http://podium.test/lesson"},
        "timestamp": stored.isoformat(),
        "stored": stored.isoformat().replace("+00:00", "Z"),
        "authority": {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": "tool"}},
        "version": "1.0.0",
        **extra,
    }


async def _store(runtime: ServiceRuntime, *statements: dict[str, Any]) -> None:
    for statement in statements:
        event = new_event(
            StatementsReceived,
            "gateway",
            StatementsData(
                actor=actor_key(statement["actor"]),
                lrs_client_id=uuid.uuid4(),
                statements=[statement],
            ),
        )
        await runtime.publisher.publish(event)
    ids = [s["id"] for s in statements]

    async def stored() -> bool:
        return await _count(runtime, "id = ANY(CAST(:ids AS uuid[]))", ids=ids) == len(ids)

    await eventually(stored, message="statements stored")


async def _count(runtime: ServiceRuntime, where: str, **params: Any) -> int:
    async with runtime.db.session() as session:
        sql = f"SELECT count(*) FROM ingest.statements WHERE {where}"  # noqa: S608 - test SQL
        return int((await session.execute(text(sql), params)).scalar_one())


async def _document(runtime: ServiceRuntime, agent_key: str) -> None:
    async with runtime.db.session() as session:
        await session.execute(
            text(
                "INSERT INTO ingest.documents VALUES "
                "('state', 'http://podium.test/lesson', :k, '', 'bookmark', 'x', 'text/plain', "
                "'e', now())"
            ),
            {"k": agent_key},
        )


async def test_erase_removes_the_learners_statements_and_documents(
    ingest: tuple[Settings, ServiceRuntime], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, runtime = ingest
    learner = {"mbox": f"mailto:{uuid.uuid4().hex[:8]}@podium.test"}
    other = {"mbox": f"mailto:{uuid.uuid4().hex[:8]}@podium.test"}
    now = datetime.now(UTC)
    mine = [_statement(learner, now), _statement(learner, now)]
    about_me = _statement(other, now, object={"objectType": "Agent", **learner})
    theirs = _statement(other, now)
    await _store(runtime, *mine, about_me, theirs)
    await _document(runtime, actor_key(learner))
    # The command runs its own event loop, as it does from a shell.
    assert await asyncio.to_thread(erase_command, settings, [json.dumps(learner)]) == 0
    assert json.loads(capsys.readouterr().out) == {"statements": 3, "documents": 1}
    ids = [s["id"] for s in (*mine, about_me)]
    assert await _count(runtime, "id = ANY(CAST(:ids AS uuid[]))", ids=ids) == 0
    assert await _count(runtime, "id = CAST(:id AS uuid)", id=theirs["id"]) == 1
    assert await asyncio.to_thread(erase_command, settings, ["{}"]) == 2


async def test_retention_purges_only_statements_older_than_the_setting(
    ingest: tuple[Settings, ServiceRuntime],
) -> None:
    settings, runtime = ingest
    learner = {"mbox": f"mailto:{uuid.uuid4().hex[:8]}@podium.test"}
    now = datetime.now(UTC)
    old = _statement(learner, now - timedelta(days=31))
    recent = _statement(learner, now - timedelta(days=29))
    await _store(runtime, old, recent)
    assert await purge_expired(settings, runtime.db) >= 1
    assert await _count(runtime, "id = CAST(:id AS uuid)", id=old["id"]) == 0
    assert await _count(runtime, "id = CAST(:id AS uuid)", id=recent["id"]) == 1

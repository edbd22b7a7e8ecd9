"""Statements stored and announced on real Postgres, without HTTP, Kafka or uvicorn (SPEC §5.4).

The first test calls the use case; the second feeds the same events through the
runtime's dispatcher with ingest's own router, so the batch handler's wiring
(inbox, dependencies, one unit of work per poll) is what is under test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as redis
from podium_contracts.events import StatementsData, StatementsReceived
from podium_ingest import consumers, service
from podium_ingest.config import Settings
from podium_ingest.models import metadata
from podium_ingest.statement_index import StatementIndex
from podium_runtime.broker import EventConsumer
from podium_runtime.outbox import Outbox, messaging_tables, new_event
from podium_runtime.rollback import RolledBackDatabase, deliver
from podium_runtime.routing import include_router
from podium_runtime.testing import TestInfrastructure
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

SETTINGS = Settings(database_url="postgresql://unused/unused")
TABLES = messaging_tables(metadata)
ACTOR = {"objectType": "Agent", "mbox": "mailto:ada@example.test"}


def _statement() -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": str(uuid.uuid4()),
        "actor": ACTOR,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": "https://lessons.example/1"},
        "timestamp": now,
        "stored": now,
        "authority": {"objectType": "Agent", "mbox": "mailto:tool@example.test"},
        "version": "1.0.3",
    }


def _received(*statements: dict[str, Any]) -> StatementsReceived:
    data = StatementsData(
        actor="mailto:ada@example.test", lrs_client_id=uuid.uuid4(), statements=list(statements)
    )
    return new_event(StatementsReceived, "gateway", data)


async def _recorded(session: AsyncSession) -> int:
    query = select(func.count()).where(TABLES.outbox.c.event_type == "learning.statement_recorded")
    return int(await session.scalar(query) or 0)


async def test_statements_are_stored_once_and_announced_once(session: AsyncSession) -> None:
    first, second = _statement(), _statement()
    outbox = Outbox(TABLES.outbox, "")
    new = await service.record_statements(
        session, outbox, [_received(first, second)], SETTINGS.platform_url
    )
    again = await service.record_statements(
        session, outbox, [_received(first)], SETTINGS.platform_url
    )
    assert (new, again) == (2, 0)
    stored = await service.find_statement(session, uuid.UUID(first["id"]), voided=False)
    assert stored is not None and stored["verb"] == first["verb"]
    assert await _recorded(session) == 2


@pytest.fixture
def dispatcher(database: RolledBackDatabase, test_infra: TestInfrastructure) -> EventConsumer:
    """The runtime's consumer with ingest's router, on the test's transaction."""
    consumer = EventConsumer("ingest", database, TABLES.inbox, SETTINGS)
    client = redis.from_url(test_infra.infra.redis_url)
    provided = {
        "outbox": Outbox(TABLES.outbox, ""),
        "settings": SETTINGS,
        "redis": client,  # only for claims of refused statements: none here
        "database": database,
        # No index under this prefix: adding ids to it leaves it missing (ADR 0059).
        "statement_index": StatementIndex(client, f"t{uuid.uuid4().hex[:8]}:", 1 << 16),
    }
    include_router(consumer, consumers.router, SETTINGS, provided)
    return consumer


async def test_a_redelivered_poll_reaches_the_batch_handler_once(
    dispatcher: EventConsumer, session: AsyncSession
) -> None:
    event = _received(_statement(), _statement())
    await deliver(dispatcher, event, event)  # the second copy is a redelivery
    assert await _recorded(session) == 2
    inbox = await session.scalar(select(func.count()).select_from(TABLES.inbox))
    assert inbox == 1

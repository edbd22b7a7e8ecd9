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
from podium_contracts.events import StatementsData, StatementsReceived, StatementsRecorded
from podium_ingest import consumers, service
from podium_ingest.config import Settings
from podium_ingest.models import metadata
from podium_ingest.statement_index import StatementIndex
from podium_runtime.broker import EventConsumer
from podium_runtime.outbox import Outbox, messaging_tables, new_event, staged_events
from podium_runtime.rollback import RolledBackDatabase, deliver
from podium_runtime.routing import include_router
from podium_runtime.testing import TestInfrastructure
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

SETTINGS = Settings(database_url="postgresql://unused/unused")
TABLES = messaging_tables(metadata)
ACTOR = {"objectType": "Agent", "mbox": "mailto:ada@example.test"}
GRACE = {"objectType": "Agent", "mbox": "mailto:grace@example.test"}
GRACE_KEY = "mbox:mailto:grace@example.test"


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
    """Count the facts announced, over every `learning.statements_recorded` event."""
    return sum(len(event["data"]["facts"]) for event in await _announced(session))


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


async def _announced(session: AsyncSession) -> list[dict[str, Any]]:
    return await staged_events(session, TABLES.outbox, "learning.statements_recorded")


async def test_facts_travel_in_one_event_per_received_event_and_actor(
    session: AsyncSession,
) -> None:
    """ADR 0068: a poll's facts are grouped by cause and actor, in recording order."""
    first, second = _statement(), _statement()
    target = _statement() | {"actor": GRACE}
    voiding = _statement() | {
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    outbox = Outbox(TABLES.outbox, "")
    earlier = _received(target)
    await service.record_statements(session, outbox, [earlier], SETTINGS.platform_url)
    ada, graces = _received(first, second, voiding), _received(_statement() | {"actor": GRACE})
    await service.record_statements(session, outbox, [ada, graces], SETTINGS.platform_url)

    events = await _announced(session)
    summary = [
        (
            e["causation_id"],
            e["correlation_id"],
            e["data"]["actor"],
            [(f["statement_id"], f["voided"]) for f in e["data"]["facts"]],
        )
        for e in events
    ]
    assert summary[0] == (
        str(earlier.id),
        earlier.correlation_id,
        GRACE_KEY,
        [(target["id"], False)],
    )
    assert summary[1] == (
        str(ada.id),
        ada.correlation_id,
        "mbox:mailto:ada@example.test",
        [(first["id"], False), (second["id"], False), (voiding["id"], False)],
    )
    assert summary[2][:3] == (str(graces.id), graces.correlation_id, GRACE_KEY)
    # The voided target travels under its own actor (the partition key), caused by the
    # voiding statement, after the facts of the statements (as one event each did before).
    assert summary[3] == (str(ada.id), ada.correlation_id, GRACE_KEY, [(target["id"], True)])
    assert len(events) == 4
    assert all(StatementsRecorded.model_validate(e) for e in events)


async def test_a_target_voided_in_its_own_poll_is_taken_back_after_it_is_announced(
    session: AsyncSession,
) -> None:
    """The voiding arrives first, in an earlier event of the same poll and actor."""
    target = _statement()
    voiding = _statement() | {
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    received = [_received(voiding), _received(target)]
    await service.record_statements(
        session, Outbox(TABLES.outbox, ""), received, SETTINGS.platform_url
    )
    facts = [f for e in await _announced(session) for f in e["data"]["facts"]]
    about_target = [f["voided"] for f in facts if f["statement_id"] == target["id"]]
    # Consumers apply facts in order: the last word on the target is that it is voided.
    assert about_target[-1] is True


async def test_a_large_batch_is_announced_in_bounded_events(session: AsyncSession) -> None:
    statements = [_statement() for _ in range(service.FACTS_PER_EVENT + 1)]
    await service.record_statements(
        session, Outbox(TABLES.outbox, ""), [_received(*statements)], SETTINGS.platform_url
    )
    sizes = [len(e["data"]["facts"]) for e in await _announced(session)]
    assert sizes == [service.FACTS_PER_EVENT, 1]
    ids = [f["statement_id"] for e in await _announced(session) for f in e["data"]["facts"]]
    assert ids == [s["id"] for s in statements]


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

"""Activity points in the wallet on real Postgres, without HTTP, Kafka or uvicorn (SPEC §10.4).

The first tests call the use case; the last one feeds the points events through
the runtime's dispatcher with the rewards router, so the handler's wiring (the
inbox, the `rewards` dependency) is what is under test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from podium_contracts.events import PointsAwarded, PointsData, PointsRevoked
from podium_rewards import consumers
from podium_rewards.config import Settings
from podium_rewards.models import metadata
from podium_rewards.service import Rewards
from podium_runtime.broker import EventConsumer
from podium_runtime.outbox import Outbox, messaging_tables, new_event
from podium_runtime.rollback import RolledBackDatabase, deliver
from podium_runtime.routing import include_router
from sqlalchemy.ext.asyncio import AsyncSession

SETTINGS = Settings(database_url="postgresql://unused/unused", scheduler_enabled=False)
TABLES = messaging_tables(metadata)


@pytest.fixture
def rewards() -> Rewards:
    """The rewards use cases; their outbox only stages rows in the test's transaction."""
    return Rewards(SETTINGS, Outbox(TABLES.outbox, ""))


def _points(user_id: uuid.UUID, points: float, statement_id: uuid.UUID | None = None) -> PointsData:
    return PointsData(
        user_id=user_id,
        competition_id=uuid.uuid4(),
        statement_id=statement_id or uuid.uuid4(),
        points=points,
        occurred_at=datetime.now(UTC),
    )


async def test_points_are_credited_once_per_statement(
    session: AsyncSession, rewards: Rewards
) -> None:
    user_id = uuid.uuid4()
    earned = _points(user_id, 25.0)
    await rewards.record_points(session, earned, revoked=False)
    await rewards.record_points(session, earned, revoked=False)  # redelivered
    await rewards.record_points(session, _points(user_id, 10.0), revoked=False)
    wallet = await rewards.wallet(session, user_id)
    assert (wallet["balance"], wallet["debt"]) == (35, 0)


async def test_a_voided_statement_takes_its_points_back(
    session: AsyncSession, rewards: Rewards
) -> None:
    user_id = uuid.uuid4()
    earned = _points(user_id, 25.0)
    await rewards.record_points(session, earned, revoked=False)
    await rewards.record_points(session, _points(user_id, 5.0), revoked=False)
    await rewards.record_points(session, earned, revoked=True)
    await rewards.record_points(session, earned, revoked=True)  # redelivered
    wallet = await rewards.wallet(session, user_id)
    assert (wallet["balance"], wallet["debt"]) == (5, 0)


@pytest.fixture
def dispatcher(database: RolledBackDatabase, rewards: Rewards) -> EventConsumer:
    """The runtime's consumer with the rewards router, on the test's transaction."""
    consumer = EventConsumer("rewards", database, TABLES.inbox, SETTINGS)
    include_router(consumer, consumers.router, SETTINGS, {"rewards": rewards})
    return consumer


async def test_points_events_reach_the_wallet_through_the_dispatcher(
    dispatcher: EventConsumer, session: AsyncSession, rewards: Rewards
) -> None:
    user_id = uuid.uuid4()
    earned = _points(user_id, 40.0)
    awarded = new_event(PointsAwarded, "competitions", earned)
    revoked = new_event(PointsRevoked, "competitions", earned)
    other = new_event(PointsAwarded, "competitions", _points(user_id, 7.0))
    await deliver(dispatcher, awarded, other, awarded, revoked)  # the third is a redelivery
    wallet = await rewards.wallet(session, user_id)
    assert (wallet["balance"], wallet["debt"]) == (7, 0)
    handled = {cls.__name__ for route in consumers.router.routes for cls in route.event_classes}
    assert {"PointsAwarded", "PointsRevoked"} <= handled

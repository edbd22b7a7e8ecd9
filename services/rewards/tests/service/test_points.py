"""Activity points in the wallet on real Postgres, without HTTP, Kafka or uvicorn (SPEC §10.4).

The first tests call the use case; the last one feeds the points events through
the runtime's dispatcher with the rewards router, so the handler's wiring (the
inbox, the `rewards` dependency) is what is under test.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from podium_contracts.events import PointsAwarded, PointsData, PointsRevoked
from podium_rewards import consumers
from podium_rewards.config import Settings
from podium_rewards.models import ledger, metadata, point_lots
from podium_rewards.service import Caller, Rewards
from podium_runtime.broker import EventConsumer
from podium_runtime.outbox import Outbox, messaging_tables, new_event
from podium_runtime.rollback import RolledBackDatabase, deliver
from podium_runtime.routing import include_router
from sqlalchemy import select
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
    await rewards.record_points(session, [(earned, False)])
    await rewards.record_points(session, [(earned, False)])  # redelivered
    await rewards.record_points(session, [(_points(user_id, 10.0), False)])
    wallet = await rewards.wallet(session, user_id)
    assert (wallet["balance"], wallet["debt"]) == (35, 0)


async def test_a_voided_statement_takes_its_points_back(
    session: AsyncSession, rewards: Rewards
) -> None:
    user_id = uuid.uuid4()
    earned = _points(user_id, 25.0)
    await rewards.record_points(session, [(earned, False)])
    await rewards.record_points(session, [(_points(user_id, 5.0), False)])
    await rewards.record_points(session, [(earned, True)])
    await rewards.record_points(session, [(earned, True)])  # redelivered
    wallet = await rewards.wallet(session, user_id)
    assert (wallet["balance"], wallet["debt"]) == (5, 0)


async def _books(session: AsyncSession, user_id: uuid.UUID) -> tuple[list[tuple], list[tuple]]:
    """A wallet's ledger (kind, points, balance after, reason) and lots (points, remaining)."""
    entries = await session.execute(
        select(ledger.c.kind, ledger.c.points, ledger.c.balance_after, ledger.c.reason)
        .where(ledger.c.user_id == user_id)
        .order_by(ledger.c.entry_id)
    )
    lots = await session.execute(
        select(point_lots.c.points, point_lots.c.remaining)
        .where(point_lots.c.user_id == user_id)
        .order_by(point_lots.c.lot_id)
    )
    return [tuple(row) for row in entries], [tuple(row) for row in lots]


async def test_a_poll_of_points_books_what_one_at_a_time_books(
    session: AsyncSession, rewards: Rewards
) -> None:
    """Three learners' awards (fractions, zeros, redeliveries), revocations and a spend that
    leaves a debt, credited a poll at a time and, for their twins, one change at a time."""
    rng = random.Random(104)
    learners = [uuid.uuid4() for _ in range(3)]
    twins = {learner: uuid.uuid4() for learner in learners}
    admin = Caller(uuid.uuid4(), "admin")
    steps: list[list[tuple[PointsData, bool]] | int] = []
    awarded: list[PointsData] = []
    for _ in range(12):
        poll: list[tuple[PointsData, bool]] = []
        for _ in range(rng.randint(2, 8)):
            roll = rng.random()
            if awarded and roll < 0.15:
                poll.append((rng.choice(awarded), False))  # a redelivery
            elif awarded and roll < 0.35:
                poll.append((awarded.pop(rng.randrange(len(awarded))), True))
            else:
                points = rng.choice((0.4, 2.5, 10.0, 25.0, 40.0))
                awarded.append(_points(rng.choice(learners), points))
                poll.append((awarded[-1], False))
        steps += [poll, rng.randrange(len(learners))]  # then a spend by one learner

    async def run(poll_at_a_time: bool, who: dict[uuid.UUID, uuid.UUID]) -> None:
        for step in steps:
            if isinstance(step, int):
                user_id = who[learners[step]]
                balance = (await rewards.wallet(session, user_id))["balance"]
                if balance:
                    await rewards.adjust(session, admin, user_id, -balance, "spent")
                continue
            # The twins' statements are others too: a statement is credited once, whoever.
            changes = [
                (
                    data.model_copy(
                        update={
                            "user_id": who[data.user_id],
                            "statement_id": uuid.uuid5(who[data.user_id], str(data.statement_id)),
                        }
                    ),
                    revoked,
                )
                for data, revoked in step
            ]
            if poll_at_a_time:
                await rewards.record_points(session, changes)
            else:
                for change in changes:
                    await rewards.record_points(session, [change])

    await run(True, {learner: learner for learner in learners})
    await run(False, twins)
    reasons: list[str] = []
    for learner in learners:
        wallet = await rewards.wallet(session, learner)
        twin = await rewards.wallet(session, twins[learner])
        assert (wallet["balance"], wallet["debt"]) == (twin["balance"], twin["debt"])
        books = await _books(session, learner)
        assert books == await _books(session, twins[learner])
        # What the wallet holds net of its debt is what its entries add up to.
        assert wallet["balance"] - wallet["debt"] == sum(points for _, points, _, _ in books[0])
        reasons += [reason for _, _, _, reason in books[0]]
    # Revocations after a spend left debts, which later awards settled.
    assert any("taken back" in reason for reason in reasons)
    assert any("settled revoked points" in reason for reason in reasons)


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

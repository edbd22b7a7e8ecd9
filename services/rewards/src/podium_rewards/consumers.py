"""Event handlers of the rewards service (thin: parse, call the service).

Points arrive on `podium.points` keyed by user, so a statement's award and its
revocation are applied in order; the ledger's idempotency sources make a
redelivered event a no-op even past the inbox.
"""

from __future__ import annotations

from podium_contracts.events import (
    CompetitionCreated,
    CompetitionUpdated,
    PointsAwarded,
    PointsRevoked,
    UserRegistered,
    UserUpdated,
)
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_rewards import repository as repo
from podium_rewards.service import Rewards

router = EventRouter()


@router.handles(UserRegistered, UserUpdated)
async def on_user(session: AsyncSession, event: UserRegistered | UserUpdated) -> None:
    """Keep display names for published results."""
    await repo.upsert_user(session, event.data.user_id, event.data.display_name)


@router.handles(CompetitionCreated, CompetitionUpdated)
async def on_competition(
    session: AsyncSession, event: CompetitionCreated | CompetitionUpdated
) -> None:
    """A competition's owner is a sponsor (SPEC §1) and may create drawings."""
    await repo.add_sponsor(session, event.data.owner_id)


@router.handles_batch(PointsAwarded, PointsRevoked)
async def on_points(
    session: AsyncSession, events: list[PointsAwarded | PointsRevoked], *, rewards: Rewards
) -> None:
    """Credit a poll's earned points to the wallets, or take voided ones back, in order."""
    await rewards.record_points(
        session, [(event.data, isinstance(event, PointsRevoked)) for event in events]
    )

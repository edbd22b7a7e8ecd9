"""Event handlers of the leaderboard projection (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import SubmissionInvalidated, SubmissionRejected, SubmissionScored
from podium_runtime.outbox import Outbox
from podium_runtime.routing import EventRouter
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.leaderboard import service
from podium_competitions.leaderboard.mirror import LeaderboardMirror

router = EventRouter()


# Scores arrive in bursts near a deadline: a poll's scores share one unit of work and
# each entrant is placed once; should it fail, the runtime applies them one by one.
@router.handles_batch(SubmissionScored)
async def on_submissions_scored(
    session: AsyncSession,
    events: list[SubmissionScored],
    *,
    outbox: Outbox,
    leaderboard_mirror: LeaderboardMirror,
) -> None:
    """Rank a poll's new scores (SPEC §7.2)."""
    await service.record_scores(session, outbox, leaderboard_mirror, [e.data for e in events])


@router.handles(SubmissionInvalidated)
async def on_submission_invalidated(
    session: AsyncSession,
    event: SubmissionInvalidated,
    *,
    outbox: Outbox,
    leaderboard_mirror: LeaderboardMirror,
) -> None:
    """Recompute the boards without the invalidated submission (SPEC §5.3)."""
    await service.record_invalidated(session, outbox, leaderboard_mirror, event.data)


@router.handles(SubmissionRejected)
async def on_submission_rejected(
    session: AsyncSession, event: SubmissionRejected, *, redis: Redis
) -> None:
    """Give the daily slot back (SPEC §7.1); count the rejection for its daily limit."""
    await service.give_back_daily_slot(session, redis, event.data)

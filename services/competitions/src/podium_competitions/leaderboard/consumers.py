"""Event handlers of the leaderboard projection (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import SubmissionInvalidated, SubmissionRejected, SubmissionScored
from podium_runtime.runtime import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.leaderboard import service
from podium_competitions.leaderboard.mirror import LeaderboardMirror


def register(runtime: ServiceRuntime) -> None:
    """Attach the leaderboard handlers to the service's consumer (group `competitions`)."""
    assert runtime.consumer is not None and runtime.outbox is not None
    outbox = runtime.outbox
    mirror = LeaderboardMirror(runtime.redis)

    @runtime.consumer.handles(SubmissionScored)
    async def on_submission_scored(session: AsyncSession, event: SubmissionScored) -> None:
        """Rank the new score (SPEC §7.2)."""
        await service.record_scored(session, outbox, mirror, event.data)

    @runtime.consumer.handles(SubmissionInvalidated)
    async def on_submission_invalidated(
        session: AsyncSession, event: SubmissionInvalidated
    ) -> None:
        """Recompute the boards without the invalidated submission (SPEC §5.3)."""
        await service.record_invalidated(session, outbox, mirror, event.data)

    @runtime.consumer.handles(SubmissionRejected)
    async def on_submission_rejected(session: AsyncSession, event: SubmissionRejected) -> None:
        """Give the participant's daily slot back (SPEC §7.1)."""
        await service.give_back_daily_slot(runtime.redis, event.data)

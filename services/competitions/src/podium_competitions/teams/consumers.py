"""Event handlers of teams (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import TeamJoinRequested, TeamMergeRequested
from podium_runtime.outbox import Outbox
from podium_runtime.routing import EventRouter
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.teams import service

router = EventRouter()


@router.handles(TeamJoinRequested)
async def on_team_join_requested(
    session: AsyncSession,
    event: TeamJoinRequested,
    *,
    outbox: Outbox,
    redis: Redis,
    leaderboard_mirror: LeaderboardMirror,
) -> None:
    """Decide a team join in the competition's partition order (SPEC §10.2)."""
    await service.decide_team_join(session, outbox, redis, leaderboard_mirror, event.data)


@router.handles(TeamMergeRequested)
async def on_team_merge_requested(
    session: AsyncSession,
    event: TeamMergeRequested,
    *,
    outbox: Outbox,
    redis: Redis,
    leaderboard_mirror: LeaderboardMirror,
) -> None:
    """Decide a team merge in the competition's partition order (SPEC §10.2)."""
    await service.decide_merge(session, outbox, redis, leaderboard_mirror, event.data)

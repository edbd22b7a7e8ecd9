"""Event handlers of the erasure (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import UserDeleted
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.erasure import service
from podium_competitions.leaderboard.mirror import LeaderboardMirror

router = EventRouter()


@router.handles(UserDeleted)
async def on_user_deleted(
    session: AsyncSession,
    event: UserDeleted,
    *,
    leaderboard_mirror: LeaderboardMirror,
    activity_mirror: ActivityBoardMirror,
) -> None:
    """Anonymise the participant; their board rows stay, without a name."""
    await service.erase_user(session, event.data.user_id, leaderboard_mirror, activity_mirror)

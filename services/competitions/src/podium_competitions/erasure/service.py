"""Use case of the erasure: anonymise, then mirror the boards again without the name."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity import service as activity_service
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.erasure import repository
from podium_competitions.leaderboard import service as leaderboard_service
from podium_competitions.leaderboard.mirror import LeaderboardMirror


async def erase_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    leaderboard_mirror: LeaderboardMirror,
    activity_mirror: ActivityBoardMirror,
) -> None:
    """Drop the user's name, address and tier; boards keep their anonymous row.

    Ranks and scores do not change (the others' standings stay as they were), so
    no rank change is announced; only the mirrored names are rewritten.
    """
    await repository.anonymise_user(session, user_id)
    for competition_id in await repository.prediction_boards_of(session, user_id):
        await leaderboard_service.write_lines_again(
            session, leaderboard_mirror, competition_id, user_id
        )
    days: dict[uuid.UUID, list[date]] = {}
    for row in await repository.activity_board_days_of(session, user_id):
        days.setdefault(row.competition_id, []).append(row.board_day)
    for competition_id, held in days.items():
        await activity_service.write_lines_again(
            session, activity_mirror, competition_id, user_id, sorted(held)
        )

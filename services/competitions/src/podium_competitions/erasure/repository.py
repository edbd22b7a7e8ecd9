"""SQL of the erasure (STYLE 2)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity.models import activity_points
from podium_competitions.leaderboard.models import leaderboard_submissions
from podium_competitions.models import users

#: What boards show in place of an erased participant's name.
ANONYMOUS = "Deleted user"


async def anonymise_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Keep the participant's row for the boards, without name, address or tier."""
    values: dict[str, Any] = {"display_name": ANONYMOUS, "email": None, "tier": None}
    await session.execute(
        pg_insert(users)
        .values(user_id=user_id, timezone="UTC", **values)
        .on_conflict_do_update(index_elements=[users.c.user_id], set_=values)
    )


async def prediction_boards_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the competitions whose prediction boards hold the user."""
    rows = await session.execute(
        select(leaderboard_submissions.c.competition_id)
        .where(leaderboard_submissions.c.user_id == user_id)
        .distinct()
    )
    return [r.competition_id for r in rows]


async def activity_board_days_of(session: AsyncSession, user_id: uuid.UUID) -> list[Any]:
    """Return the (competition, board day) pairs whose activity boards hold the user."""
    rows = await session.execute(
        select(activity_points.c.competition_id, activity_points.c.board_day)
        .where(activity_points.c.user_id == user_id)
        .distinct()
    )
    return list(rows.all())

"""SQL of the sponsor's statistics (STYLE 2)."""

from __future__ import annotations

import uuid

from podium_runtime.db import AnyRow
from sqlalchemy import cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Date

from podium_competitions.leaderboard.models import leaderboard_entries, leaderboard_submissions
from podium_competitions.models import enrollments, users


async def submissions_per_day(session: AsyncSession, competition_id: uuid.UUID) -> list[AnyRow]:
    """Return scored submissions per UTC day of submission (invalidated ones included)."""
    ls = leaderboard_submissions.c
    day = cast(func.timezone("UTC", ls.submitted_at), Date).label("day")
    rows = await session.execute(
        select(day, func.count().label("submissions"))
        .where(ls.competition_id == competition_id, ls.public_score.is_not(None))
        .group_by(day)
        .order_by(day)
    )
    return list(rows.all())


async def best_public_scores(session: AsyncSession, competition_id: uuid.UUID) -> list[float]:
    """Return each board line's best public score."""
    le = leaderboard_entries.c
    rows = await session.execute(
        select(le.score).where(le.competition_id == competition_id, le.split == "public")
    )
    return [row.score for row in rows]


async def removed_from_board(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Take a removed participant's submissions off the boards."""
    ls = leaderboard_submissions.c
    await session.execute(
        update(leaderboard_submissions)
        .where(ls.competition_id == competition_id, ls.user_id == user_id)
        .values(invalidated=True)
    )


async def pending_enrollments(session: AsyncSession, competition_id: uuid.UUID) -> list[AnyRow]:
    """Return pending join requests with display names, oldest first."""
    e = enrollments.c
    rows = await session.execute(
        select(e.user_id, e.updated_at, func.coalesce(users.c.display_name, "").label("name"))
        .select_from(enrollments.outerjoin(users, users.c.user_id == e.user_id))
        .where(e.competition_id == competition_id, e.status == "pending")
        .order_by(e.updated_at, e.user_id)
    )
    return list(rows.all())

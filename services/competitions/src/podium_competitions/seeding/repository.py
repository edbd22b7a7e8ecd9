"""Bulk inserts of seeded participants and scored submissions (benchmarks and load tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.leaderboard.models import leaderboard_submissions
from podium_competitions.models import users


async def insert_scored(
    session: AsyncSession, people: list[dict[str, Any]], scored: list[dict[str, Any]]
) -> None:
    """Insert participants and their scored submissions, one statement per table."""
    await session.execute(insert(users), people)
    await session.execute(insert(leaderboard_submissions), scored)

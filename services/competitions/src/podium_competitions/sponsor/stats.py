"""The sponsor's submission statistics (SPEC §5.2 stats), read by the competitions service."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.sponsor import domain, repository


async def submission_stats(
    session: AsyncSession, competition_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return `submissions_per_day` and `score_distribution` (best public score per line)."""
    days = await repository.submissions_per_day(session, competition_id)
    buckets = domain.histogram(await repository.best_public_scores(session, competition_id))
    return (
        [{"date": d.day.isoformat(), "submissions": d.submissions} for d in days],
        [{"low": b.low, "high": b.high, "count": b.count} for b in buckets],
    )

"""The debounce state of rank-change notices, per participant and board (SPEC §7.4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from podium_runtime.db import AnyRow
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import (
    rank_notices,
)
from podium_notifier.repositories import chunks


async def lock_rank_notices(
    session: AsyncSession, pairs: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], AnyRow]:
    """Return (and lock, in key order) the last notices of `(user_id, competition_id)` boards."""
    keys = sorted(set(pairs))
    if not keys:
        return {}
    rows = await session.execute(
        select(rank_notices)
        .where(tuple_(rank_notices.c.user_id, rank_notices.c.competition_id).in_(keys))
        .order_by(rank_notices.c.user_id, rank_notices.c.competition_id)
        .with_for_update()
    )
    return {(r.user_id, r.competition_id): r for r in rows}


async def save_rank_notices(
    session: AsyncSession,
    notices: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, int | None]],
) -> None:
    """Store many last rank notices: `{(user_id, competition_id): (notified_at, rank)}`."""
    rows = [
        {"user_id": u, "competition_id": c, "last_notified_at": at, "last_rank": rank}
        for (u, c), (at, rank) in sorted(notices.items())
    ]
    for chunk in chunks(rows):
        stmt = insert(rank_notices).values(list(chunk))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[rank_notices.c.user_id, rank_notices.c.competition_id],
                set_={
                    "last_notified_at": stmt.excluded.last_notified_at,
                    "last_rank": stmt.excluded.last_rank,
                },
            )
        )

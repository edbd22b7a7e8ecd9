"""Each user's in-app notifications: written once per (cause, user), read in pages (§5.6)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import (
    notifications,
)
from podium_notifier.repositories import chunks


async def insert_notifications(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> list[AnyRow]:
    """Insert many in-app notifications; returns only the rows that were new.

    A (cause, user) that already has one is skipped (ON CONFLICT DO NOTHING on
    the idempotency key, SPEC §7.4). Rows come back in insertion (`seq`) order.
    """
    inserted: list[AnyRow] = []
    for chunk in chunks(rows):
        result = await session.execute(
            insert(notifications)
            .values(list(chunk))
            .on_conflict_do_nothing(constraint="uq_notifications_dedupe_user")
            .returning(notifications)
        )
        inserted += result.all()
    inserted.sort(key=lambda r: r.seq)
    return inserted


async def list_notifications(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    unread_only: bool,
    limit: int,
    before_seq: int | None = None,
    after_seq: int | None = None,
) -> Sequence[AnyRow]:
    """Return a page of a user's inbox: newest first, or oldest first after `after_seq`."""
    query = select(notifications).where(notifications.c.user_id == user_id)
    if unread_only:
        query = query.where(notifications.c.read_at.is_(None))
    if after_seq is not None:
        query = query.where(notifications.c.seq > after_seq).order_by(notifications.c.seq)
    else:
        if before_seq is not None:
            query = query.where(notifications.c.seq < before_seq)
        query = query.order_by(notifications.c.seq.desc())
    return (await session.execute(query.limit(limit))).all()


async def count_unread(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Return how many of a user's notifications are unread."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(notifications)
            .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
        )
        or 0
    )


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> AnyRow | None:
    """Mark one of the user's notifications read (kept if already read); None if not theirs."""
    found: AnyRow | None = (
        await session.execute(
            update(notifications)
            .where(notifications.c.id == notification_id, notifications.c.user_id == user_id)
            .values(read_at=func.coalesce(notifications.c.read_at, func.now()))
            .returning(notifications)
        )
    ).first()
    return found

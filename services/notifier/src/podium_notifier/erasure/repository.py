"""SQL of the erasure (STYLE 2)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import (
    emails,
    held_emails,
    notifications,
    participants,
    preferences,
    rank_notices,
    statements,
    users,
)

#: Every table of the notifier that holds rows about one user.
PERSONAL = (
    notifications,
    emails,
    held_emails,
    preferences,
    participants,
    statements,
    rank_notices,
    users,
)


async def delete_user_rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Delete everything the notifier holds about the user; return rows per table."""
    deleted = {}
    for table in PERSONAL:
        result = await session.execute(delete(table).where(table.c.user_id == user_id))
        deleted[table.name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return deleted

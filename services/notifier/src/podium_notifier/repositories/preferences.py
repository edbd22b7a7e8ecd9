"""Stored notification preferences per user, type and channel (SPEC §7.4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import (
    preferences,
)


async def stored_preferences(
    session: AsyncSession, user_id: uuid.UUID
) -> dict[tuple[str, str], bool]:
    """Return the choices a user made, keyed by (type, channel)."""
    rows = await session.execute(
        select(preferences.c.notification_type, preferences.c.channel, preferences.c.enabled).where(
            preferences.c.user_id == user_id
        )
    )
    return {(r.notification_type, r.channel): r.enabled for r in rows}


async def stored_preferences_of(
    session: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[tuple[str, str], bool]]:
    """Return the choices of many users at once; users without any get an empty dict."""
    ids = list(set(user_ids))
    choices: dict[uuid.UUID, dict[tuple[str, str], bool]] = {u: {} for u in ids}
    if not ids:
        return choices
    rows = await session.execute(select(preferences).where(preferences.c.user_id.in_(ids)))
    for r in rows:
        choices[r.user_id][(r.notification_type, r.channel)] = r.enabled
    return choices


async def save_preferences(
    session: AsyncSession, user_id: uuid.UUID, choices: dict[tuple[str, str], bool]
) -> None:
    """Store a user's choices (upsert per type and channel)."""
    if not choices:
        return
    stmt = insert(preferences).values(
        [
            {"user_id": user_id, "notification_type": kind, "channel": channel, "enabled": on}
            for (kind, channel), on in choices.items()
        ]
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[
                preferences.c.user_id,
                preferences.c.notification_type,
                preferences.c.channel,
            ],
            set_={"enabled": stmt.excluded.enabled},
        )
    )

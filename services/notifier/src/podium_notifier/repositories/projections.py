"""Copies of other services' facts: users, competitions, participants, statements (§7.4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import (
    competitions,
    participants,
    statements,
    users,
)
from podium_notifier.repositories import chunks


async def upsert_user(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or refresh one user's contact facts."""
    stmt = insert(users).values(**values, updated_at=func.now())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[users.c.user_id],
            set_={
                "email": stmt.excluded.email,
                "display_name": stmt.excluded.display_name,
                "timezone": stmt.excluded.timezone,
                "updated_at": func.now(),
            },
        )
    )


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> AnyRow | None:
    """Return one user's projection row, or None when not known yet."""
    return (await session.execute(select(users).where(users.c.user_id == user_id))).first()


async def get_users(
    session: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AnyRow]:
    """Return the projection rows of the known users among `user_ids`, by id."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = await session.execute(select(users).where(users.c.user_id.in_(ids)))
    return {r.user_id: r for r in rows}


async def upsert_competition(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or refresh the competition facts reminders need."""
    stmt = insert(competitions).values(**values, updated_at=func.now())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[competitions.c.competition_id],
            set_={k: stmt.excluded[k] for k in values if k != "competition_id"}
            | {"updated_at": func.now()},
        )
    )


async def get_competitions(
    session: AsyncSession, competition_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AnyRow]:
    """Return the projection rows of the known competitions among `competition_ids`, by id."""
    ids = list(set(competition_ids))
    if not ids:
        return {}
    rows = await session.execute(select(competitions).where(competitions.c.competition_id.in_(ids)))
    return {r.competition_id: r for r in rows}


async def set_participants(
    session: AsyncSession, states: dict[tuple[uuid.UUID, uuid.UUID], bool]
) -> None:
    """Record many joins and leaves at once: `{(competition_id, user_id): active}`."""
    rows = [
        {"competition_id": c, "user_id": u, "active": active, "updated_at": func.now()}
        for (c, u), active in states.items()
    ]
    for chunk in chunks(rows):
        stmt = insert(participants).values(list(chunk))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[participants.c.competition_id, participants.c.user_id],
                set_={"active": stmt.excluded.active, "updated_at": func.now()},
            )
        )


async def record_statements(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store learning facts (or mark them voided) for the daily-goal check, in order, in
    one round trip (an executemany).

    Each row holds `statement_id`, `user_id`, `verb`, `timestamp` and `voided`; a
    statement already stored takes the row's `voided`.
    """
    if not rows:
        return
    stmt = insert(statements)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[statements.c.statement_id],
            set_={"voided": stmt.excluded.voided},
        ),
        list(rows),
    )


async def users_with_statement(
    session: AsyncSession,
    user_ids: Sequence[uuid.UUID],
    verb: str,
    start: datetime,
    end: datetime,
) -> set[uuid.UUID]:
    """Return which of `user_ids` have a non-voided `verb` statement in [start, end)."""
    if not user_ids:
        return set()
    rows = await session.execute(
        select(statements.c.user_id)
        .distinct()
        .where(
            statements.c.user_id.in_(user_ids),
            statements.c.verb == verb,
            statements.c.timestamp >= start,
            statements.c.timestamp < end,
            statements.c.voided.is_(False),
        )
    )
    return {r.user_id for r in rows}


async def goal_competitions(session: AsyncSession, now: datetime) -> Sequence[AnyRow]:
    """Return active activity competitions with a daily goal that are running at `now`."""
    return (
        await session.execute(
            select(competitions).where(
                competitions.c.kind == "activity",
                competitions.c.status == "active",
                competitions.c.daily_goal_verb.is_not(None),
                competitions.c.starts_at <= now,
                competitions.c.ends_at > now,
            )
        )
    ).all()


async def competitions_with_instant_between(
    session: AsyncSession, column: str, start: datetime, end: datetime
) -> Sequence[AnyRow]:
    """Return active competitions whose `starts_at`/`ends_at` lies in (start, end]."""
    col = competitions.c[column]
    return (
        await session.execute(
            select(competitions).where(competitions.c.status == "active", col > start, col <= end)
        )
    ).all()


async def active_participants(
    session: AsyncSession, competition_ids: Iterable[uuid.UUID]
) -> Sequence[AnyRow]:
    """Return (competition_id, user_id, timezone) of active participants; UTC when unknown."""
    return (
        await session.execute(
            select(
                participants.c.competition_id,
                participants.c.user_id,
                func.coalesce(users.c.timezone, "UTC").label("timezone"),
            )
            .select_from(participants.outerjoin(users, users.c.user_id == participants.c.user_id))
            .where(
                participants.c.competition_id.in_(list(competition_ids)),
                participants.c.active.is_(True),
            )
        )
    ).all()


async def try_scheduler_lock(session: AsyncSession, key: str) -> bool:
    """Take the scheduler's advisory lock for this transaction; False if another replica has it."""
    return bool(
        await session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": key})
    )

"""All SQL of the notifier service (STYLE 2): projections, inbox, e-mail outbox, preferences."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import (
    competitions,
    emails,
    notifications,
    participants,
    preferences,
    rank_notices,
    statements,
    users,
)

#: Most rows one multi-row INSERT carries (well under the driver's 32767 parameters).
CHUNK = 1000


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    """Split bulk rows into statements of at most `CHUNK` rows."""
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


# --- projections ----------------------------------------------------------------


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
    for chunk in _chunks(rows):
        stmt = insert(participants).values(list(chunk))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[participants.c.competition_id, participants.c.user_id],
                set_={"active": stmt.excluded.active, "updated_at": func.now()},
            )
        )


async def record_statement(
    session: AsyncSession,
    statement_id: uuid.UUID,
    user_id: uuid.UUID,
    verb: str,
    timestamp: datetime,
    voided: bool,
) -> None:
    """Store one learning fact (or mark it voided) for the daily-goal check."""
    stmt = insert(statements).values(
        statement_id=statement_id, user_id=user_id, verb=verb, timestamp=timestamp, voided=voided
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[statements.c.statement_id],
            set_={"voided": stmt.excluded.voided},
        )
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


# --- rank-change debounce ---------------------------------------------------------


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
    for chunk in _chunks(rows):
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


# --- preferences ------------------------------------------------------------------


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


# --- in-app inbox -----------------------------------------------------------------


async def insert_notifications(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> list[AnyRow]:
    """Insert many in-app notifications; returns only the rows that were new.

    A (cause, user) that already has one is skipped (ON CONFLICT DO NOTHING on
    the idempotency key, SPEC §7.4). Rows come back in insertion (`seq`) order.
    """
    inserted: list[AnyRow] = []
    for chunk in _chunks(rows):
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


# --- e-mail outbox ----------------------------------------------------------------


async def insert_emails(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> set[tuple[str, uuid.UUID]]:
    """Queue many mails; returns the `(dedupe_key, user_id)` of those that were new.

    All rows must carry the same columns. A (cause, user) that already has a mail
    is skipped (ON CONFLICT DO NOTHING on the idempotency key, SPEC §7.4).
    """
    inserted: set[tuple[str, uuid.UUID]] = set()
    for chunk in _chunks(rows):
        result = await session.execute(
            insert(emails)
            .values(list(chunk))
            .on_conflict_do_nothing(constraint="uq_emails_dedupe_user")
            .returning(emails.c.dedupe_key, emails.c.user_id)
        )
        inserted |= {(r.dedupe_key, r.user_id) for r in result}
    return inserted


async def claim_due_emails(session: AsyncSession, limit: int) -> Sequence[AnyRow]:
    """Lock up to `limit` pending mails that are due; other senders skip them."""
    return (
        await session.execute(
            select(emails)
            .where(emails.c.status == "pending", emails.c.next_attempt_at <= func.now())
            .order_by(emails.c.next_attempt_at, emails.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def mark_email_sent(session: AsyncSession, email_id: int) -> None:
    """Record a successful hand-off to the SMTP relay."""
    await session.execute(
        update(emails)
        .where(emails.c.id == email_id)
        .values(status="sent", sent_at=func.now(), attempts=emails.c.attempts + 1, last_error=None)
    )


async def mark_email_failed(
    session: AsyncSession, email_id: int, error: str, retry_in: timedelta | None
) -> None:
    """Record a failed attempt: retry after `retry_in`, or dead-letter when it is None."""
    values: dict[str, Any] = {"attempts": emails.c.attempts + 1, "last_error": error[:2000]}
    if retry_in is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = func.now() + retry_in
    await session.execute(update(emails).where(emails.c.id == email_id).values(**values))

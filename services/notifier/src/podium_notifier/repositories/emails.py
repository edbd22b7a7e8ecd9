"""The e-mail outbox: queued once per (cause, user, kind), claimed by the sender (SPEC §7.4)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier.models import emails, held_emails
from podium_notifier.repositories import chunks


async def insert_emails(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> set[tuple[str, uuid.UUID]]:
    """Queue many mails; returns the `(dedupe_key, user_id)` of those that were new.

    All rows must carry the same columns. A (cause, user) that already has a mail
    is skipped (ON CONFLICT DO NOTHING on the idempotency key, SPEC §7.4).
    """
    inserted: set[tuple[str, uuid.UUID]] = set()
    for chunk in chunks(rows):
        result = await session.execute(
            insert(emails)
            .values(list(chunk))
            .on_conflict_do_nothing(constraint="uq_emails_dedupe_user")
            .returning(emails.c.dedupe_key, emails.c.user_id)
        )
        inserted |= {(r.dedupe_key, r.user_id) for r in result}
    return inserted


#: Seed of `hashtextextended(user id, seed)`, the key of a recipient's lock.
RECIPIENT_LOCK_SEED = 4104


async def lock_recipients(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> None:
    """Hold, until commit, the lock that orders holding a user's mails and releasing them."""
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended(u::text, :seed))"
            " FROM unnest(CAST(:ids AS uuid[])) AS u ORDER BY u"
        ),
        {"ids": sorted(set(user_ids)), "seed": RECIPIENT_LOCK_SEED},
    )


async def hold_emails(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> set[tuple[str, uuid.UUID]]:
    """Keep mails for users whose address is not known yet; returns the new ones' keys.

    A (cause, user) already held is skipped, as in `insert_emails`.
    """
    held: set[tuple[str, uuid.UUID]] = set()
    for chunk in chunks(rows):
        result = await session.execute(
            insert(held_emails)
            .values(list(chunk))
            .on_conflict_do_nothing()
            .returning(held_emails.c.dedupe_key, held_emails.c.user_id)
        )
        held |= {(r.dedupe_key, r.user_id) for r in result}
    return held


async def take_held_emails(session: AsyncSession, user_id: uuid.UUID) -> Sequence[AnyRow]:
    """Remove and return the user's held mails, oldest first."""
    result = await session.execute(
        delete(held_emails).where(held_emails.c.user_id == user_id).returning(held_emails)
    )
    return sorted(result.all(), key=lambda row: row.created_at)


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

"""All SQL of the identity service (STYLE 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_identity import profile_card
from podium_identity.models import audit_log, lrs_clients, refresh_tokens, user_tokens, users


async def insert_user(session: AsyncSession, **values: Any) -> AnyRow | None:
    """Insert a user; return the row, or None when the e-mail is taken."""
    statement = (
        pg_insert(users)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[users.c.email])
        .returning(users)
    )
    found: AnyRow | None = (await session.execute(statement)).first()
    if found is not None:
        profile_card.account_changed(session, found)
    return found


async def user_by_email(session: AsyncSession, email: str) -> AnyRow | None:
    """Return the user with this (normalised) e-mail."""
    return (await session.execute(select(users).where(users.c.email == email))).first()


async def user_by_id(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> AnyRow | None:
    """Return the user with this id."""
    statement = select(users).where(users.c.id == user_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).first()


async def update_user(session: AsyncSession, user_id: uuid.UUID, **values: Any) -> AnyRow:
    """Change a user's columns; return the new row."""
    statement = (
        update(users)
        .where(users.c.id == user_id)
        .values(**values, updated_at=func.now())
        .returning(users)
    )
    found: AnyRow = (await session.execute(statement)).one()
    profile_card.account_changed(session, found)
    return found


async def insert_refresh_token(session: AsyncSession, **values: Any) -> None:
    """Store a refresh token (hashed)."""
    await session.execute(insert(refresh_tokens).values(**values))


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> AnyRow | None:
    """Return the refresh token row with this hash, locked for the rotation."""
    statement = (
        select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash).with_for_update()
    )
    return (await session.execute(statement)).first()


async def mark_refresh_token_rotated(session: AsyncSession, token_id: uuid.UUID) -> None:
    """Record that a refresh token was used (it must never be used again)."""
    await session.execute(
        update(refresh_tokens).where(refresh_tokens.c.id == token_id).values(rotated_at=func.now())
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> int:
    """Revoke every live token of a family; return how many."""
    result = await session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


async def revoke_user_refresh_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Revoke every refresh token of a user (password reset: log out everywhere)."""
    await session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def insert_user_token(session: AsyncSession, **values: Any) -> None:
    """Store a single-use token (hashed)."""
    await session.execute(insert(user_tokens).values(**values))


async def use_user_token(
    session: AsyncSession, token_hash: str, purpose: str, now: datetime
) -> uuid.UUID | None:
    """Consume a live single-use token atomically; return its user id, or None."""
    statement = (
        update(user_tokens)
        .where(
            user_tokens.c.token_hash == token_hash,
            user_tokens.c.purpose == purpose,
            user_tokens.c.used_at.is_(None),
            user_tokens.c.expires_at > now,
        )
        .values(used_at=func.now())
        .returning(user_tokens.c.user_id)
    )
    found: uuid.UUID | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def insert_lrs_client(session: AsyncSession, **values: Any) -> AnyRow:
    """Store an LRS client; return the row."""
    found: AnyRow = (
        await session.execute(insert(lrs_clients).values(**values).returning(lrs_clients))
    ).one()
    return found


async def list_lrs_clients(session: AsyncSession, include_revoked: bool) -> list[AnyRow]:
    """Return LRS clients, newest first."""
    statement = select(lrs_clients).order_by(lrs_clients.c.created_at.desc())
    if not include_revoked:
        statement = statement.where(lrs_clients.c.revoked_at.is_(None))
    return list((await session.execute(statement)).all())


async def revoke_lrs_client(session: AsyncSession, client_id: uuid.UUID) -> AnyRow | None:
    """Revoke a live LRS client; return its row, or None when there was none."""
    result = await session.execute(
        update(lrs_clients)
        .where(lrs_clients.c.id == client_id, lrs_clients.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(lrs_clients)
    )
    row: AnyRow | None = result.first()
    return row


async def lrs_client_by_key(session: AsyncSession, key: str) -> AnyRow | None:
    """Return the live LRS client with this key."""
    statement = select(lrs_clients).where(
        lrs_clients.c.key == key, lrs_clients.c.revoked_at.is_(None)
    )
    return (await session.execute(statement)).first()


# --- administration (ADR 0037) ---------------------------------------------------


def _like(text: str) -> str:
    """Return a LIKE pattern matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_users(
    session: AsyncSession,
    *,
    query: str | None,
    role: str | None,
    disabled: bool | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AnyRow]:
    """Return users newest first, filtered by e-mail/name substring, role and state."""
    statement = select(users).order_by(users.c.created_at.desc(), users.c.id.desc()).limit(limit)
    if query:
        pattern = _like(query.lower())
        statement = statement.where(
            or_(
                users.c.email.like(pattern, escape="\\"),
                func.lower(users.c.display_name).like(pattern, escape="\\"),
            )
        )
    if role is not None:
        statement = statement.where(users.c.role == role)
    if disabled is not None:
        statement = statement.where(
            users.c.disabled_at.is_not(None) if disabled else users.c.disabled_at.is_(None)
        )
    if after is not None:
        statement = statement.where(tuple_(users.c.created_at, users.c.id) < tuple_(*after))
    return list((await session.execute(statement)).all())


async def insert_audit_entry(session: AsyncSession, **values: Any) -> bool:
    """Append an audit entry; False when an entry with this id is already stored."""
    statement = (
        pg_insert(audit_log)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[audit_log.c.id])
        .returning(audit_log.c.seq)
    )
    return (await session.execute(statement)).first() is not None


async def audit_entries(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    competition_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> list[AnyRow]:
    """Return audit entries newest first; `action` ending in `.*` matches a prefix.

    `competition_id` keeps the entries about one competition: those targeting it and
    those about something inside it (an invalidated submission names its competition).
    """
    conditions = []
    if actor_id is not None:
        conditions.append(audit_log.c.actor_id == actor_id)
    if action is not None:
        if action.endswith(".*"):
            conditions.append(audit_log.c.action.startswith(action[:-1], autoescape=True))
        else:
            conditions.append(audit_log.c.action == action)
    if target_type is not None:
        conditions.append(audit_log.c.target_type == target_type)
    if target_id is not None:
        conditions.append(audit_log.c.target_id == target_id)
    if competition_id is not None:
        competition = str(competition_id)
        conditions.append(
            or_(
                and_(
                    audit_log.c.target_type == "competition",
                    audit_log.c.target_id == competition,
                ),
                audit_log.c.after["competition_id"].astext == competition,
            )
        )
    if since is not None:
        conditions.append(audit_log.c.at >= since)
    if until is not None:
        conditions.append(audit_log.c.at < until)
    if before_seq is not None:
        conditions.append(audit_log.c.seq < before_seq)
    statement = select(audit_log).where(and_(True, *conditions))
    return list(
        (await session.execute(statement.order_by(audit_log.c.seq.desc()).limit(limit))).all()
    )


async def latest_audit_by_target(
    session: AsyncSession, target_type: str, target_ids: list[str]
) -> dict[str, AnyRow]:
    """Return the newest audit entry of each of these targets."""
    if not target_ids:
        return {}
    newest = (
        select(func.max(audit_log.c.seq))
        .where(audit_log.c.target_type == target_type, audit_log.c.target_id.in_(target_ids))
        .group_by(audit_log.c.target_id)
    )
    statement = select(audit_log).where(audit_log.c.seq.in_(newest))
    return {row.target_id: row for row in (await session.execute(statement)).all()}


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete a user; their refresh and single-use tokens go with them (ON DELETE CASCADE)."""
    await session.execute(delete(users).where(users.c.id == user_id))
    profile_card.account_erased(session, user_id)

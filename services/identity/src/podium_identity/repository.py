"""All SQL of the identity service (STYLE 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_identity.models import lrs_clients, refresh_tokens, user_tokens, users


async def insert_user(session: AsyncSession, **values: Any) -> AnyRow | None:
    """Insert a user; return the row, or None when the e-mail is taken."""
    statement = (
        pg_insert(users)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[users.c.email])
        .returning(users)
    )
    found: AnyRow | None = (await session.execute(statement)).first()
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


async def revoke_lrs_client(session: AsyncSession, client_id: uuid.UUID) -> bool:
    """Revoke a live LRS client; return whether one was found."""
    result = await session.execute(
        update(lrs_clients)
        .where(lrs_clients.c.id == client_id, lrs_clients.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lrs_client_by_key(session: AsyncSession, key: str) -> AnyRow | None:
    """Return the live LRS client with this key."""
    statement = select(lrs_clients).where(
        lrs_clients.c.key == key, lrs_clients.c.revoked_at.is_(None)
    )
    return (await session.execute(statement)).first()

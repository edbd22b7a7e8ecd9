"""Async SQLAlchemy engine and the unit of work: one session per request or message (STYLE 3).

The entrypoint opens `Database.session()`; it commits on success and rolls back
on error. Services only `flush()`. Callbacks registered with `after_commit` run
once the transaction is durable (used to wake the outbox relay). Awaitable hooks
registered with `before_commit` run just before the commit (an error rolls the
transaction back), those registered with `after_transaction` once it committed or
rolled back, before `session()` returns (used by the competitions read model, ADR 0041).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from sqlalchemy import MetaData, Row, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The largest value of a Postgres `integer` column: a bound for numbers taken from a
#: request (a larger one would fail in the driver, not as the caller's mistake).
PG_INTEGER_MAX = 2**31 - 1

_AFTER_COMMIT = "podium_after_commit"
_BEFORE_COMMIT = "podium_before_commit"
_AFTER_TRANSACTION = "podium_after_transaction"

log = logging.getLogger(__name__)

#: A result row of any width (repositories return rows; callers read them by name).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


def service_metadata(schema: str) -> MetaData:
    """Return the MetaData of one service's own schema with our naming convention (STYLE 7)."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Normalise a Postgres URL to the asyncpg driver (`postgresql://` is accepted)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def after_commit(session: AsyncSession, callback: Callable[[], Any]) -> None:
    """Run `callback` after the session's transaction commits (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def before_commit(session: AsyncSession, hook: Callable[[], Awaitable[Any]]) -> None:
    """Await `hook()` just before the session commits; if it raises, the transaction rolls back."""
    session.info.setdefault(_BEFORE_COMMIT, []).append(hook)


def after_transaction(session: AsyncSession, hook: Callable[[bool], Awaitable[Any]]) -> None:
    """Await `hook(committed)` once the transaction ended, before `Database.session()` returns.

    Errors are logged, never raised: the transaction's outcome is already decided.
    """
    session.info.setdefault(_AFTER_TRANSACTION, []).append(hook)


async def _ended(hooks: list[Callable[[bool], Awaitable[Any]]], *, committed: bool) -> None:
    for hook in hooks:
        try:
            await hook(committed)
        except Exception:
            log.exception("after-transaction hook failed")


def _ping(dbapi_connection: Any) -> bool:
    """Check a pooled asyncpg connection with one round trip; errors become DBAPI errors.

    A DBAPI error tells the pool the connection is gone (the dialect's `is_disconnect`),
    which then replaces it, as with the dialect's own ping.
    """
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as error:
        dbapi_connection._handle_exception(error)  # raises the adapted DBAPI error
    return True


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, url: str, pool_size: int = 10, echo: bool = False) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            echo=echo,
            # Errors and logs show statements without their values (hashes, e-mails, tokens).
            hide_parameters=True,
        )
        # The asyncpg dialect's pre-ping is three round trips (BEGIN, ";", ROLLBACK), the
        # transaction being for pgbouncer's transaction pooling, which we do not use;
        # one ";" proves the connection alive as well, on every checkout.
        self.engine.sync_engine.dialect.do_ping = _ping  # type: ignore[method-assign]
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session in a transaction: commit on success, roll back on any error.

        An error with a true `commit_effects` (see `problems.ServiceError`) is a
        refusal whose writes must stand: they are committed, then it is raised.
        """
        refused: BaseException | None = None
        async with self.sessionmaker() as session:
            try:
                try:
                    yield session
                except BaseException as exc:
                    if not getattr(exc, "commit_effects", False):
                        raise
                    refused = exc
                for hook in session.info.pop(_BEFORE_COMMIT, []):
                    await hook()
                await session.commit()
            except BaseException:
                await session.rollback()
                await _ended(session.info.pop(_AFTER_TRANSACTION, []), committed=False)
                raise
            callbacks = session.info.pop(_AFTER_COMMIT, [])
            ended = session.info.pop(_AFTER_TRANSACTION, [])
        for callback in callbacks:
            callback()
        await _ended(ended, committed=True)
        if refused is not None:
            raise refused

    async def ping(self) -> None:
        """Run `SELECT 1`; raises when the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

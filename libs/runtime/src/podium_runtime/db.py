"""Async SQLAlchemy engine and the unit of work: one session per request or message (STYLE 3).

The entrypoint opens `Database.session()`; it commits on success and rolls back
on error. Services only `flush()`. Callbacks registered with `after_commit` run
once the transaction is durable (used to wake the outbox relay). Awaitable hooks
registered with `before_commit` run just before the commit (an error rolls the
transaction back), those registered with `after_transaction` once it committed or
rolled back, before `session()` returns (used by the competitions read model, ADR 0041).

A `DriverStatement` runs one `text()` statement of a hot path (once per event or
batch) on the session's own asyncpg connection, in its transaction: SQLAlchemy
compiles it once, and each call skips its execution machinery (ADR 0100).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from sqlalchemy import MetaData, Row, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.elements import TextClause
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

#: A pooled connection idle for longer than this is pinged before it is handed out
#: (ADR 0082); one used more recently is handed out unless the server closed it.
PING_AFTER_IDLE_SECONDS = 5.0

#: A select-list expression that makes the rest of its transaction run prepared
#: statements on their generic plans (`plan_cache_mode`, local to the transaction).
#: Postgres plans a prepared statement anew for its parameters at each run until a
#: generic plan looks no dearer; a large statement it never trusts so (the board
#: placement) costs ~1 ms of planning per run. A hot path's read that precedes such a
#: statement selects this, so no round trip is added (ADR 0103).
GENERIC_PLANS_SQL = "set_config('plan_cache_mode', 'force_generic_plan', true)"

_RETURNED_AT = "podium_returned_at"
_AFTER_COMMIT = "podium_after_commit"
_BEFORE_COMMIT = "podium_before_commit"
_AFTER_TRANSACTION = "podium_after_transaction"
_DRIVER = "podium_driver_connection"

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


def _returned(dbapi_connection: Any, record: Any) -> None:
    """Note when a connection went back to the pool."""
    record.info[_RETURNED_AT] = time.monotonic()


def _checked_out(dbapi_connection: Any, record: Any, proxy: Any, *, ping_after: float) -> None:
    """Refuse a pooled connection the server closed, and ping one idle for a while (ADR 0082).

    A restarted or terminated server closes its sockets and asyncpg marks the
    connection closed as soon as the event loop reads that, so a recently used
    connection needs no round trip; one idle longer than `ping_after` seconds is
    pinged with one `;` round trip (a silently dropped link shows only then; the
    dialect's own ping is three: BEGIN, `;`, ROLLBACK).
    Raising `DisconnectionError` makes the pool discard it and connect afresh.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")
    returned = record.info.get(_RETURNED_AT)
    if returned is not None and time.monotonic() - returned > ping_after:
        try:
            await_(dbapi_connection.driver_connection.fetchrow(";"))
        except Exception as exc:
            raise DisconnectionError("a pooled connection failed its ping") from exc


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        echo: bool = False,
        ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
        max_overflow: int | None = None,
    ) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            # Connections past `pool_size`, closed as soon as they are returned (default:
            # as many again). Services run without any (ADR 0108).
            max_overflow=pool_size if max_overflow is None else max_overflow,
            # Not `pool_pre_ping`: three round trips (BEGIN, ping, ROLLBACK) before every
            # unit of work; `_checked_out` pings only connections idle for a while.
            pool_pre_ping=False,
            echo=echo,
            # Errors and logs show statements without their values (hashes, e-mails, tokens).
            hide_parameters=True,
        )
        pool = self.engine.sync_engine.pool
        event.listen(pool, "checkin", _returned)
        event.listen(
            pool,
            "checkout",
            lambda connection, record, proxy: _checked_out(
                connection, record, proxy, ping_after=ping_after_idle
            ),
        )
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


class DriverStatement:
    """A `text()` statement run straight on the session's asyncpg connection (ADR 0100).

    For statements a hot path runs once per event or batch: `session.execute` spends
    150-300 µs of this machine's CPU around each statement (compiled-cache lookup,
    result and cursor wrappers, a greenlet switch), as much as Postgres spends on a
    small statement. SQLAlchemy still compiles the statement, once, to the driver's
    positional form; each call hands the named values in that order to asyncpg,
    which keeps the statement prepared per connection. It runs in the session's
    transaction (and savepoint), like anything else the session executes: when it is
    the unit of work's first statement, it begins the transaction through the
    adapter's own `_start_transaction`, as the adapter's first statement would (a
    private method of SQLAlchemy's asyncpg adapter: `test_driver_statements` fails,
    and the call refuses to run outside a transaction, if that ever changes).

    Values go to the driver as they are: only statements whose parameters need no
    SQLAlchemy bind processing are taken (plain `:name` parameters, cast in SQL);
    rows come back as asyncpg `Record`s, read by column name (`row["rank"]`).

    The session's driver connection is looked up once per transaction and kept in
    `session.info` with the transaction it belongs to: asking the session for its
    connection costs ~80 µs of this machine's CPU per statement (a greenlet switch
    and the engine's connection wrappers), and a score event runs four of them.
    """

    def __init__(self, clause: TextClause) -> None:
        self.clause = clause
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    def _sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        compiled = self.clause.compile(dialect=dialect)
        if compiled._bind_processors:
            raise TypeError(
                "a DriverStatement takes only parameters the driver encodes itself: "
                f"{sorted(compiled._bind_processors)} need SQLAlchemy's bind processing"
            )
        return compiled.string, tuple(compiled.positiontup or ())

    async def fetch(self, session: AsyncSession, values: Mapping[str, Any]) -> list[Any]:
        """Run the statement with `values` (by parameter name) in the session's transaction
        and return its rows (asyncpg `Record`s; none for a statement without RETURNING)."""
        if self._compiled is None:
            self._compiled = self._sql(session.sync_session.get_bind().dialect)
        sql, names = self._compiled
        driver = await _driver_connection(session)
        if not driver.is_in_transaction():
            raise RuntimeError("a DriverStatement runs only inside the session's transaction")
        return await driver.fetch(sql, *[values[name] for name in names])  # type: ignore[no-any-return]


async def _driver_connection(session: AsyncSession) -> Any:
    """Return the asyncpg connection of the session's transaction, begun if it was not.

    Kept in `session.info` with the transaction it belongs to, and looked up again only
    when the session's transaction changed (after a commit or a rollback).
    """
    held = session.info.get(_DRIVER)
    if held is not None and held[0] is session.sync_session.get_transaction():
        return held[1]
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:  # type: ignore[union-attr]
        # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement it runs;
        # this may be the first, so it begins the transaction the adapter will end.
        await adapted._start_transaction()  # type: ignore[union-attr]
    driver = adapted.driver_connection  # type: ignore[union-attr]
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver)
    return driver

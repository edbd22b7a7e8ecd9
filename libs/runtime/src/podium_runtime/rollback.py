"""The service-level test tier: real migrations once, every test inside a rolled-back transaction.

Polar's `tests/fixtures/database.py` pattern. A worker starts Postgres only (no
Redis, no Kafka, no uvicorn), creates its own database and runs every
service's real Alembic migrations once. Each test then opens one connection,
begins an outer transaction and hands out sessions with
`join_transaction_mode="create_savepoint"`: the code under test commits and
rolls back savepoints as it would in production, and the outer transaction is
rolled back when the test ends, so no test sees another's rows.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from podium_contracts.envelope import Event
from podium_contracts.topics import topic_for
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from podium_runtime.db import Database, async_url
from podium_runtime.infra import ensure_database, skip_durability, start_postgres
from podium_runtime.migrations import upgrade

if TYPE_CHECKING:
    from podium_runtime.broker import EventConsumer

REPO_ROOT = Path(__file__).resolve().parents[4]


def _nothing_to_stop() -> None:
    """The Postgres was given, not started."""


async def migrated_database(
    workdir: Path, services: tuple[str, ...], server_url: str | None = None
) -> tuple[str, Callable[[], None]]:
    """Create a fresh database, run the migrations of `services`; return its URL and a stop.

    `server_url` is a Postgres to use (`DATABASE_URL`); otherwise an embedded
    one is started in `workdir`.
    """
    server: str
    stop: Callable[[], None]
    if server_url is None:
        server, stop = await asyncio.to_thread(start_postgres, workdir)
        await skip_durability(server)
    else:
        server, stop = server_url, _nothing_to_stop
    url = await ensure_database(server, f"podium_unit_{uuid.uuid4().hex[:10]}")
    for name in services:
        schema = importlib.import_module(f"podium_{name}.models").SCHEMA
        migrations = REPO_ROOT / "services" / name / "migrations"
        await asyncio.to_thread(upgrade, migrations, url, schema)
    return url, stop


def engine_for_tests(url: str) -> AsyncEngine:
    """Return an engine for the service-level tier (a small pool: one connection per test)."""
    return create_async_engine(async_url(url), pool_size=2, max_overflow=2)


class RolledBackDatabase(Database):
    """A `Database` whose units of work are savepoints inside the test's outer transaction.

    Hand it to anything that opens its own sessions (the consumer's dispatcher,
    a background job): commits stay inside the test and vanish with it.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.url = str(connection.engine.url)
        self.engine = connection.engine
        self.sessionmaker = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )


@asynccontextmanager
async def rolled_back(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in an outer transaction that is rolled back afterwards."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        try:
            yield connection
        finally:
            await outer.rollback()


@asynccontextmanager
async def joined_session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """Yield a session joined to the outer transaction (its commits become savepoints)."""
    session = AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield session
    finally:
        await session.close()


async def deliver(dispatcher: EventConsumer, *events: Event) -> None:
    """Hand `events` to a service's dispatcher as one poll of Kafka records (no broker).

    The records carry what the broker would: topic, offset, serialized value and the
    event type and version headers, so the inbox, parsing and batch paths run as in
    production.
    """
    records: list[Any] = [
        SimpleNamespace(
            topic=topic_for(event).name,
            partition=0,
            offset=offset,
            key=None,
            value=event.model_dump_json().encode(),
            headers=[
                ("event_type", event.type.encode()),
                ("event_version", str(event.version).encode()),
            ],
        )
        for offset, event in enumerate(events)
    ]
    await dispatcher.dispatch_batch(records)

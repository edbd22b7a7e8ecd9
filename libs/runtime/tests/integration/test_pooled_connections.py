"""A pooled connection the server dropped is never handed to a unit of work (ADR 0082)."""

from __future__ import annotations

from podium_runtime.db import Database
from probe import ProbeSettings
from sqlalchemy import text


async def _backend_pid(database: Database) -> int:
    async with database.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_unit_of_work_after_the_server_ended_its_connection_succeeds(
    probe_settings: ProbeSettings,
) -> None:
    # Never idle long enough to be pinged: the closed connection itself must be noticed.
    database = Database(probe_settings.database_url, pool_size=1, ping_after_idle=3600.0)
    other = Database(probe_settings.database_url, pool_size=1)
    try:
        ended = await _backend_pid(database)
        async with other.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
            # Wait until the server has really let that backend go (the activity view is a
            # snapshot per transaction: clear it on each turn).
            await session.execute(
                text(
                    "DO $$ BEGIN WHILE EXISTS (SELECT FROM pg_stat_activity WHERE pid = "
                    f"{ended:d}) LOOP PERFORM pg_sleep(0.01); PERFORM pg_stat_clear_snapshot();"
                    " END LOOP; END $$"
                )
            )
        # The pool holds one connection, the one the server ended: the next unit of work
        # gets a fresh one instead of failing.
        assert await _backend_pid(database) != ended
    finally:
        await database.dispose()
        await other.dispose()


async def test_a_connection_idle_past_the_limit_is_pinged_and_kept(
    probe_settings: ProbeSettings,
) -> None:
    database = Database(probe_settings.database_url, pool_size=1, ping_after_idle=0.0)
    try:
        first = await _backend_pid(database)
        # Pinged on the way out of the pool, found alive, handed out again.
        assert await _backend_pid(database) == first
    finally:
        await database.dispose()

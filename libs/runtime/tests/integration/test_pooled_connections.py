"""A pooled connection the server ended is replaced at checkout (one round trip checks it)."""

from __future__ import annotations

from podium_runtime.db import Database
from podium_runtime.testing import TestInfrastructure
from sqlalchemy import text


async def test_a_connection_the_server_ended_is_replaced_at_checkout(
    test_infra: TestInfrastructure,
) -> None:
    database = Database(test_infra.database_url, pool_size=1)
    other = Database(test_infra.database_url, pool_size=1)
    try:
        async with database.session() as session:
            first = await session.scalar(text("SELECT pg_backend_pid()"))
        # Another client ends the pooled connection, as a restart or an idle timeout would.
        async with other.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        async with database.session() as session:
            second = await session.scalar(text("SELECT pg_backend_pid()"))
        assert second is not None and second != first  # ran, on a fresh connection
    finally:
        await database.dispose()
        await other.dispose()

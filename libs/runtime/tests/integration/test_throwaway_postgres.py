"""The test run's own Postgres skips fsync: commits never wait on a disk other work floods."""

from __future__ import annotations

import asyncpg
import pytest
from podium_runtime.testing import TestInfrastructure
from sqlalchemy.engine import make_url


async def test_the_postgres_started_for_the_run_does_not_wait_on_disk(
    test_infra: TestInfrastructure,
) -> None:
    if test_infra.infra.sources["DATABASE_URL"] == "environment":
        pytest.skip("a Postgres given by DATABASE_URL keeps its own settings")
    url = make_url(test_infra.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            assert await connection.fetchval(f"SHOW {setting}") == "off", setting
    finally:
        await connection.close()

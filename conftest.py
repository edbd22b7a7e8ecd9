"""Fixtures shared by every test suite: one isolated set of real infrastructure per worker."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from hypothesis import settings
from podium_runtime.infra import TANSU
from podium_runtime.rollback import (
    RolledBackDatabase,
    engine_for_tests,
    joined_session,
    migrated_database,
    rolled_back,
)
from podium_runtime.testing import MIGRATED_SERVICES, TestInfrastructure
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

# Property-based tests take their example counts from a profile, never from the test:
# `full` (the default, `make test`) explores widely and remembers failing examples;
# `fast` (`make test-fast`, chosen with `--hypothesis-profile=fast`) keeps the pure tier
# quick and writes nothing. No deadline in either:
# a loaded machine must not turn a slow example into a failure.
settings.register_profile("full", max_examples=200, deadline=None)
settings.register_profile("fast", max_examples=10, deadline=None, database=None)
settings.load_profile("full")


@pytest.fixture(scope="session")
async def test_infra() -> AsyncIterator[TestInfrastructure]:
    """Postgres, Redis and Apache Kafka for this worker, with its own database and topics.

    Tests run on Apache Kafka; a silent fall back to tansu (no Java 17+) fails every
    test that uses infrastructure unless `PODIUM_ALLOW_TANSU=1` says it is wanted.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # Outside pytest's own temp root: another pytest run on the machine resets that
    # root to mode 0700, which locks out the unprivileged user embedded Postgres runs as.
    workdir = Path(tempfile.mkdtemp(prefix=f"podium-infra-{worker}-"))
    infra = await TestInfrastructure.start(workdir)
    try:
        broker = infra.infra.sources["KAFKA_BOOTSTRAP_SERVERS"]
        if broker == TANSU and os.environ.get("PODIUM_ALLOW_TANSU") != "1":
            pytest.fail(
                "tests fell back to tansu (no Java 17+ on PATH?); install Java 17+ and run "
                "`make install`, or set PODIUM_ALLOW_TANSU=1 to run on tansu on purpose",
                pytrace=False,
            )
        yield infra
    finally:
        infra.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def store(test_infra: TestInfrastructure) -> AsyncIterator[redis.Redis]:
    """A client of this worker's Redis, for tests that look at what a service keeps there."""
    client = redis.from_url(test_infra.infra.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
async def module_topic_prefix(test_infra: TestInfrastructure) -> AsyncIterator[str]:
    """Fresh topics for one test module, deleted after it.

    Consumer groups are named after services, so a consumer that outlives its module
    (a slow shutdown, a stack kept for the session) would otherwise keep partitions of
    the next module's group on Apache Kafka and take its events.
    """
    shared = test_infra.topic_prefix
    prefix = await test_infra.fresh_topics()
    test_infra.topic_prefix = prefix
    try:
        yield prefix
    finally:
        test_infra.topic_prefix = shared
        await test_infra.drop_topics(prefix)


@pytest.fixture(scope="module", autouse=True)
def _own_topics_per_module(request: pytest.FixtureRequest) -> None:
    """Give every module that uses real infrastructure topics of its own."""
    module = request.module
    if any(
        "test_infra" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if getattr(item, "module", None) is module
    ):
        request.getfixturevalue("module_topic_prefix")


# --- the service-level tier: Postgres only, every test rolled back ---------------------


@pytest.fixture(scope="session")
async def db_engine() -> AsyncIterator[AsyncEngine]:
    """An engine on a database every service's real migrations ran on, once per worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # Outside pytest's temp root, for the same reason as `test_infra`'s.
    workdir = Path(tempfile.mkdtemp(prefix=f"podium-db-{worker}-"))
    url, stop = await migrated_database(
        workdir, MIGRATED_SERVICES, os.environ.get("DATABASE_URL") or None
    )
    engine = engine_for_tests(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def db_connection(db_engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection in an outer transaction, rolled back when the test ends."""
    async with rolled_back(db_engine) as connection:
        yield connection


@pytest.fixture
async def session(db_connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """The test's unit of work: commits become savepoints of the outer transaction."""
    async with joined_session(db_connection) as unit:
        yield unit


@pytest.fixture
def database(db_connection: AsyncConnection) -> RolledBackDatabase:
    """A `Database` for code that opens its own units of work (the consumer's dispatcher)."""
    return RolledBackDatabase(db_connection)

"""Fixtures of the competitions service-level tests."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from podium_competitions.boards import BOARD_SCRIPTS
from podium_runtime.infra import start_redis
from podium_runtime.script_line import ScriptLine


@pytest.fixture(scope="module")
async def redis_client() -> AsyncIterator[redis.Redis]:
    """A Redis of the test module's own, where the mirror's staged writes are applied."""
    url, stop = start_redis(Path(tempfile.mkdtemp(prefix="podium-boards-")))
    client = redis.Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()
        stop()


@pytest.fixture
async def board_line(redis_client: redis.Redis) -> AsyncIterator[ScriptLine]:
    """A board writer's pipelined connection (ADR 0101) to the module's Redis."""
    options = redis_client.connection_pool.connection_kwargs
    line = ScriptLine(f"redis://{options['host']}:{options['port']}/0", BOARD_SCRIPTS)
    try:
        yield line
    finally:
        await line.aclose()

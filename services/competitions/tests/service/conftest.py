"""Fixtures of the competitions service-level tests."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from podium_runtime.infra import start_redis


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

"""The runtime's Redis client: a burst beyond its connections waits for one instead of failing."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis
from podium_runtime.runtime import ServiceRuntime
from probe import ProbeSettings


async def test_a_burst_beyond_the_pool_queues_for_connections(
    probe_settings: ProbeSettings,
) -> None:
    settings = probe_settings.model_copy(
        update={"redis_max_connections": 2, "redis_pool_timeout_seconds": 10.0}
    )
    runtime = ServiceRuntime(settings)
    try:
        # Each command holds its connection for 10 ms; 150 at once (more than redis-py's
        # default pool of 100, which refuses the next at once) take 75 rounds of 2.
        answers = await asyncio.gather(
            *(runtime.redis.execute_command("BLPOP", f"probe:empty:{i}", 0.01) for i in range(150))
        )
        assert answers == [None] * 150
    finally:
        await runtime.redis.aclose()


async def test_a_connection_not_freed_in_time_is_an_outage(
    probe_settings: ProbeSettings,
) -> None:
    settings = probe_settings.model_copy(
        update={"redis_max_connections": 1, "redis_pool_timeout_seconds": 0.1}
    )
    runtime = ServiceRuntime(settings)
    try:
        pool = runtime.redis.connection_pool
        held = await pool.get_connection()
        with pytest.raises(redis.ConnectionError):
            await runtime.redis.get("probe:other")
        await pool.release(held)
        assert await runtime.redis.get("probe:other") is None
    finally:
        await runtime.redis.aclose()

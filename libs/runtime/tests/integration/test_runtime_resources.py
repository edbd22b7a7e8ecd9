"""The runtime's resources: a Redis pool that queues a burst, a start-up heap kept out of GC."""

from __future__ import annotations

import asyncio
import gc

import pytest
import redis.asyncio as redis
from podium_runtime.gcpolicy import YOUNG_THRESHOLD
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


async def test_a_started_service_freezes_its_start_up_heap(probe_settings: ProbeSettings) -> None:
    """Full collections no longer visit what start-up built (`podium_runtime.gcpolicy`)."""
    settings = probe_settings.model_copy(update={"gc_freeze_at_start": True})
    runtime = ServiceRuntime(settings)
    app = runtime.create_app(title="probe", description="frozen start-up heap")
    gc.unfreeze()
    threshold = gc.get_threshold()
    gc.set_threshold(700, *threshold[1:])  # CPython's default
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
            assert frozen > 10_000  # modules, schemas, the app: all of them
            # The youngest generation is collected less often; the older ones as before.
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *threshold[1:])
            garbage: list[object] = []
            garbage.append(garbage)  # a cycle made after start is still collected
            del garbage
            assert gc.collect() >= 1
            assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)

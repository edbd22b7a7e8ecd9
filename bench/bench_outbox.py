"""Outbox relay throughput: events/s moved from Postgres to Kafka by one relay.

Baseline in the same run: the same messages published straight to the broker
with the same producer settings (no database), so the ratio shows the relay's
overhead. Starts its own infrastructure (environment URLs or embedded).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from podium_contracts.events import JoinData, JoinRequested
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.testing import TestInfrastructure
from podium_scoring.config import Settings
from podium_scoring.models import metadata

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000


def _events(count: int) -> list[JoinRequested]:
    competitions = [uuid.uuid4() for _ in range(50)]
    return [
        new_event(
            JoinRequested,
            "bench",
            JoinData(  # type: ignore[misc]
                request_id=uuid.uuid4(), competition_id=competitions[i % 50], user_id=uuid.uuid4()
            ),
        )
        for i in range(count)
    ]


async def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        infra = await TestInfrastructure.start(Path(workdir))
        try:
            await infra.migrate("scoring")
            settings = infra.settings(Settings, outbox_batch_size=500)
            runtime = ServiceRuntime(settings, metadata)
            await runtime.broker.start()
            assert runtime.outbox is not None and runtime.relay is not None
            events = _events(EVENTS)

            started = time.perf_counter()
            for offset in range(0, EVENTS, 500):
                await runtime.publisher.publish(*events[offset : offset + 500])
            direct = time.perf_counter() - started

            for offset in range(0, EVENTS, 1000):
                async with runtime.db.session() as session:
                    await runtime.outbox.add(session, *events[offset : offset + 1000])
            started = time.perf_counter()
            while await runtime.relay.relay_once():  # rows moved; 0 once none is left
                pass
            relayed = time.perf_counter() - started
            assert await runtime.relay.backlog() == 0

            await runtime.broker.stop()
            await runtime.db.dispose()
            await runtime.redis.aclose()
        finally:
            infra.stop()
    broker = infra.infra.sources["KAFKA_BOOTSTRAP_SERVERS"]
    print(f"\noutbox relay, {EVENTS} events (broker: {broker})")
    print(f"{'path':<34}{'seconds':>10}{'events/s':>12}")
    print(f"{'direct publish (baseline)':<34}{direct:>10.2f}{EVENTS / direct:>12,.0f}")
    print(f"{'outbox relay (one relay)':<34}{relayed:>10.2f}{EVENTS / relayed:>12,.0f}")
    print(f"relay / direct throughput ratio: {direct / relayed:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

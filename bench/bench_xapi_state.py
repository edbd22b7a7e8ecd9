"""xAPI State round trips: a course player saves its state (PUT) and reads it back (GET).

`make dev`'s stack runs on `--port` (default 8910; `bench/_support.dev_stack`),
every service its own process, infrastructure embedded or from the
environment; loopback only.
`PLAYERS` course players each PUT a 2 KB JSON state (suspend data, bookmark)
then GET it, `ROUNDS` times; the table shows the PUT -> GET round trip and each
half, p50/p95/p99, and round trips per second.

Results on the 2-core development machine while it ran other work at a load
average of 17-19 (six test and build sessions), embedded Postgres, Redis and
Kafka, 8 players x 50 rounds: 12 round trips/s,

| | p50 | p95 | p99 |
|---|---:|---:|---:|
| PUT -> GET round trip | 643 ms | 1,016 ms | 1,250 ms |
| PUT | 325 ms | 597 ms | 832 ms |
| GET | 299 ms | 532 ms | 915 ms |

These are contention figures, not the cost of the path (one cached credential
check, one internal call, one Postgres transaction); measure again on a quiet
machine. With 16 players on that loaded machine some internal calls timed out
(503), which the script reports as a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import dev_stack
from bench_xapi import _credentials
from xapi_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, VERSION

PLAYERS = int(os.environ.get("BENCH_PLAYERS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
STATE = "/xapi/activities/state"


async def _player(
    client: httpx.AsyncClient, number: int, timings: list[tuple[float, float]]
) -> None:
    agent = json.dumps({"mbox": f"mailto:player-{number}-{uuid.uuid4().hex[:6]}@bench.test"})
    params = {
        "activityId": "https://courses.bench.test/fractions",
        "agent": agent,
        "stateId": "https://w3id.org/xapi/scorm/activity-state",
        "registration": str(uuid.uuid4()),
    }
    for round_number in range(ROUNDS):
        state = {"location": f"slide-{round_number}", "suspendData": "x" * 2000}
        started = time.perf_counter()
        put = await client.put(STATE, params=params, json=state)
        saved = time.perf_counter()
        got = await client.get(STATE, params=params)
        done = time.perf_counter()
        assert put.status_code == 204, put.text
        assert got.status_code == 200 and got.json() == state, got.text
        timings.append((saved - started, done - started))


def _ms(values: list[float], quantile: int) -> str:
    return f"{statistics.quantiles(values, n=100)[quantile - 1] * 1000:.1f} ms"


async def measure(gateway: str) -> tuple[list[tuple[float, float]], float]:
    """Run the players against `gateway`; return their (PUT, round trip) timings and the time."""
    auth = await _credentials(gateway, ("state",))
    limits = httpx.Limits(max_connections=PLAYERS, max_keepalive_connections=PLAYERS)
    async with httpx.AsyncClient(
        base_url=gateway, headers={"Authorization": auth, **VERSION}, limits=limits
    ) as client:
        warm: list[tuple[float, float]] = []
        await _player(client, -1, warm)
        timings: list[tuple[float, float]] = []
        started = time.perf_counter()
        await asyncio.gather(*(_player(client, n, timings) for n in range(PLAYERS)))
        return timings, time.perf_counter() - started


def main() -> None:
    """Start `make dev`'s stack on `--port`, run the players, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8910, help="the stack's gateway port")
    port = parser.parse_args().port
    env = {
        "PODIUM_ADMIN_EMAIL": ADMIN_EMAIL,
        "PODIUM_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "PODIUM_GATEWAY_LRS_CACHE_SECONDS": "300",
        "PODIUM_GATEWAY_RATE_LIMIT_LRS_CLIENT": "100000000",
    }
    with dev_stack(port, env):
        timings, elapsed = asyncio.run(measure(f"http://127.0.0.1:{port}"))

    puts = [t[0] for t in timings]
    trips = [t[1] for t in timings]
    gets = [trip - put for put, trip in timings]
    print(f"{PLAYERS} players x {ROUNDS} rounds, {len(trips) / elapsed:,.0f} round trips/s")
    print("| | p50 | p95 | p99 |")
    print("|---|---:|---:|---:|")
    for name, values in (("PUT -> GET round trip", trips), ("PUT", puts), ("GET", gets)):
        print(f"| {name} | {_ms(values, 50)} | {_ms(values, 95)} | {_ms(values, 99)} |")


if __name__ == "__main__":
    main()

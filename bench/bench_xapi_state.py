"""xAPI State round trips: a course player saves its state (PUT) and reads it back (GET).

`make dev`'s stack runs on `--port` (default 8910; `bench/_support.dev_stack`),
every service its own process, infrastructure embedded or from the
environment; loopback only.
`PLAYERS` course players each PUT a 2 KB JSON state (suspend data, bookmark)
then GET it, `ROUNDS` times; the table shows the PUT -> GET round trip and each
half, p50/p95/p99, and round trips per second.

The players send with `_support.LeanClient`, as the other benchmarks' timed
phases do: httpx would spend about as much CPU per request as the gateway.
Figures and what a round trip spends: docs/performance.md, "xAPI State documents".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import LeanClient, dev_stack
from bench_xapi import _credentials
from xapi_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, VERSION

PLAYERS = int(os.environ.get("BENCH_PLAYERS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
STATE = "/xapi/activities/state"


async def _player(client: LeanClient, number: int, timings: list[tuple[float, float]]) -> None:
    agent = json.dumps({"mbox": f"mailto:player-{number}-{uuid.uuid4().hex[:6]}@bench.test"})
    query = urllib.parse.urlencode(
        {
            "activityId": "https://courses.bench.test/fractions",
            "agent": agent,
            "stateId": "https://w3id.org/xapi/scorm/activity-state",
            "registration": str(uuid.uuid4()),
        }
    )
    path = f"{STATE}?{query}"
    for round_number in range(ROUNDS):
        state = {"location": f"slide-{round_number}", "suspendData": "x" * 2000}
        started = time.perf_counter()
        put, put_body = await client.request("PUT", path, json.dumps(state).encode())
        saved = time.perf_counter()
        got, got_body = await client.request("GET", path)
        done = time.perf_counter()
        assert put == 204, put_body
        assert got == 200 and json.loads(got_body) == state, got_body
        timings.append((saved - started, done - started))


def _ms(values: list[float], quantile: int) -> str:
    return f"{statistics.quantiles(values, n=100)[quantile - 1] * 1000:.1f} ms"


async def measure(gateway: str) -> tuple[list[tuple[float, float]], float]:
    """Run the players against `gateway`; return their (PUT, round trip) timings and the time."""
    auth = await _credentials(gateway, ("state",))
    # Like wrk, not like a browser: httpx would spend as much CPU as the gateway.
    client = LeanClient(gateway, {"Authorization": auth, **VERSION})
    try:
        warm: list[tuple[float, float]] = []
        await _player(client, -1, warm)
        timings: list[tuple[float, float]] = []
        started = time.perf_counter()
        await asyncio.gather(*(_player(client, n, timings) for n in range(PLAYERS)))
        return timings, time.perf_counter() - started
    finally:
        await client.close()


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

"""xAPI State round trips: a course player saves its state (PUT) and reads it back (GET).

Gateway and ingest run as separate processes (as deployed), identity in this
process, infrastructure embedded or from the environment; loopback only.
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

import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from podium_runtime.infra import free_port
from podium_runtime.testing import TestInfrastructure, serve

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_xapi import _credentials, _env, _process
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


async def main() -> None:
    from podium_identity.app import create_api as identity_api
    from podium_identity.config import Settings as IdentitySettings

    # One internal service credential key for the whole stack (ADR 0053): the services
    # started as processes and identity in this process must sign and check alike.
    os.environ.setdefault("PODIUM_SERVICE_CREDENTIAL_KEY", secrets.token_urlsafe(32))
    with tempfile.TemporaryDirectory() as workdir:
        infra = await TestInfrastructure.start(Path(workdir))
        try:
            await infra.migrate("identity", "ingest")
            identity_settings = infra.settings(
                IdentitySettings,
                jwt_keys_dir=Path(workdir) / "keys",
                jwt_generate_missing_key=True,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                log_level="WARNING",
                service_credential_key=infra.infra.service_credential_key,
            )
            env = _env(infra)
            ingest_port, gateway_port = free_port(), free_port()
            async with serve(identity_api(identity_settings)) as identity:
                env |= {
                    "PODIUM_INGEST_PORT": str(ingest_port),
                    "PODIUM_INGEST_LOG_LEVEL": "WARNING",
                    "PODIUM_GATEWAY_PORT": str(gateway_port),
                    "PODIUM_GATEWAY_LOG_LEVEL": "WARNING",
                    "PODIUM_GATEWAY_IDENTITY_URL": identity,
                    "PODIUM_GATEWAY_INGEST_URL": f"http://127.0.0.1:{ingest_port}",
                    "PODIUM_GATEWAY_LRS_CACHE_SECONDS": "300",
                }
                pids = {"bench": os.getpid()}
                async with (
                    _process("podium_ingest", env, f"http://127.0.0.1:{ingest_port}", pids),
                    _process("podium_gateway", env, f"http://127.0.0.1:{gateway_port}", pids) as gw,
                ):
                    auth = await _credentials(gw, ("state",))
                    limits = httpx.Limits(
                        max_connections=PLAYERS, max_keepalive_connections=PLAYERS
                    )
                    async with httpx.AsyncClient(
                        base_url=gw, headers={"Authorization": auth, **VERSION}, limits=limits
                    ) as client:
                        warm: list[tuple[float, float]] = []
                        await _player(client, -1, warm)
                        timings: list[tuple[float, float]] = []
                        started = time.perf_counter()
                        await asyncio.gather(*(_player(client, n, timings) for n in range(PLAYERS)))
                        elapsed = time.perf_counter() - started
        finally:
            infra.stop()

    puts = [t[0] for t in timings]
    trips = [t[1] for t in timings]
    gets = [trip - put for put, trip in timings]
    print(f"{PLAYERS} players x {ROUNDS} rounds, {len(trips) / elapsed:,.0f} round trips/s")
    print("| | p50 | p95 | p99 |")
    print("|---|---:|---:|---:|")
    for name, values in (("PUT -> GET round trip", trips), ("PUT", puts), ("GET", gets)):
        print(f"| {name} | {_ms(values, 50)} | {_ms(values, 95)} | {_ms(values, 99)} |")


if __name__ == "__main__":
    asyncio.run(main())

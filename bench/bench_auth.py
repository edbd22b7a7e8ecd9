"""Authentication throughput: logins/s and authenticated GET /v1/users/me requests/s.

Starts its own infrastructure (environment URLs or embedded), then identity
and the gateway as separate processes (as in `make dev`), and drives the
gateway over loopback with httpx. Logins hash with the production argon2id
parameters (t=3, m=64 MiB, p=4), so login/s is bounded by CPU on purpose.
Every /v1/users/me is verified at the gateway (RS256, cached JWKS), then
relayed to identity, which verifies again and reads Postgres.

Usage: python bench/bench_auth.py [requests] [seconds-per-phase]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _support import service_env, start_ready, stop
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
LOGINS = 200
PASSWORD = "Bench password 2024!"  # noqa: S105 - a throwaway benchmark account


async def drive(
    client: httpx.AsyncClient, count: int, seconds: float, concurrency: int, request
) -> tuple[int, float, list[float]]:  # type: ignore[no-untyped-def]
    """Run `request` up to `count` times or `seconds`, `concurrency` at a time."""
    latencies: list[float] = []
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while done < count and time.monotonic() < deadline:
            done += 1
            started = time.perf_counter()
            response = await request(client)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - started, latencies


def row(name: str, count: int, elapsed: float, latencies: list[float]) -> str:
    """Format one line of the table."""
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if ordered else 0.0
    return (
        f"{name:<38}{count:>8}{elapsed:>9.2f}{count / elapsed:>10,.0f}"
        f"{statistics.median(ordered) * 1000:>9.1f}{p95 * 1000:>9.1f}"
    )


async def main() -> None:
    """Start everything, measure, print the table."""
    with tempfile.TemporaryDirectory() as workdir:
        infra = await TestInfrastructure.start(Path(workdir))
        processes: list[subprocess.Popen[bytes]] = []
        try:
            await infra.migrate("identity")
            ports = {name: free_port() for name in ("gateway", "identity")}
            env = service_env(infra, ports)
            env.update(
                {
                    "PODIUM_IDENTITY_JWT_KEYS_DIR": str(Path(workdir) / "keys"),
                    "PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY": "true",
                    "PODIUM_GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{ports['identity']}",
                    "PODIUM_GATEWAY_RATE_LIMIT_USER": "1000000000",
                    "PODIUM_GATEWAY_RATE_LIMIT_LOGIN_IP": "1000000000",
                }
            )
            await start_ready(["identity", "gateway"], env, ports, processes)
            gateway = f"http://127.0.0.1:{ports['gateway']}"

            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=30) as client:
                body = {"email": "bench@example.org", "password": PASSWORD, "display_name": "B"}
                assert (await client.post("/v1/auth/register", json=body)).status_code == 201
                credentials = {"email": body["email"], "password": PASSWORD}

                async def log_in(c: httpx.AsyncClient) -> httpx.Response:
                    return await c.post("/v1/auth/login", json=credentials)

                token = (await log_in(client)).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}

                async def me(c: httpx.AsyncClient) -> httpx.Response:
                    return await c.get("/v1/users/me", headers=auth)

                await drive(client, 200, 5, 16, me)  # warm-up: connections, JWKS, caches
                logins = await drive(client, LOGINS, SECONDS, 4, log_in)
                reads = await drive(client, REQUESTS, SECONDS, 32, me)
        finally:
            stop(processes)
            infra.stop()
    print(
        f"\nauthentication, loopback, {os.cpu_count()} CPUs (broker: "
        f"{infra.infra.sources['KAFKA_BOOTSTRAP_SERVERS']})"
    )
    print("argon2id: time_cost=3, memory_cost=65536 KiB, parallelism=4 (production defaults)")
    print(f"{'path':<38}{'count':>8}{'seconds':>9}{'per s':>10}{'p50 ms':>9}{'p95 ms':>9}")
    print(row("POST /v1/auth/login (4 concurrent)", *logins))
    print(row("GET /v1/users/me (32 concurrent)", *reads))


if __name__ == "__main__":
    asyncio.run(main())

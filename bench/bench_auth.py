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
from podium_runtime.infra import free_port
from podium_runtime.testing import TestInfrastructure

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
LOGINS = 200
PASSWORD = "Bench password 2024!"  # noqa: S105 - a throwaway benchmark account


def start(service: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start one service process."""
    return subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", f"podium_{service}", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll the readiness route until it answers 200."""
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}")
            try:
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(url)


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
            gateway_port, identity_port = free_port(), free_port()
            env = dict(os.environ)
            env.update(infra.infra.environment())
            env.update(
                {
                    "DATABASE_URL": infra.database_url,
                    "KAFKA_TOPIC_PREFIX": infra.topic_prefix,
                    "PODIUM_IDENTITY_PORT": str(identity_port),
                    "PODIUM_IDENTITY_LOG_LEVEL": "WARNING",
                    "PODIUM_IDENTITY_JWT_KEYS_DIR": str(Path(workdir) / "keys"),
                    "PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY": "true",
                    "PODIUM_GATEWAY_PORT": str(gateway_port),
                    "PODIUM_GATEWAY_LOG_LEVEL": "WARNING",
                    "PODIUM_GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{identity_port}",
                    "PODIUM_GATEWAY_RATE_LIMIT_USER": "1000000000",
                    "PODIUM_GATEWAY_RATE_LIMIT_LOGIN_IP": "1000000000",
                }
            )
            processes.append(start("identity", env))
            await wait_ready(f"http://127.0.0.1:{identity_port}", processes[-1])
            processes.append(start("gateway", env))
            gateway = f"http://127.0.0.1:{gateway_port}"
            await wait_ready(gateway, processes[-1])

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
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(15)
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

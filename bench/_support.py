"""What the benches share: service processes started as in `make dev`, awaited, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time

import httpx
from podium_runtime.testing import TestInfrastructure


def service_env(infra: TestInfrastructure, ports: dict[str, int]) -> dict[str, str]:
    """Return the environment of service processes on `infra`, each on its port, quiet logs.

    The caller adds what a service needs besides (other services' URLs, limits).
    """
    env = dict(os.environ)
    env.update(infra.infra.environment())
    env.update({"DATABASE_URL": infra.database_url, "KAFKA_TOPIC_PREFIX": infra.topic_prefix})
    for service, port in ports.items():
        env[f"PODIUM_{service.upper()}_PORT"] = str(port)
        env[f"PODIUM_{service.upper()}_LOG_LEVEL"] = "WARNING"
    return env


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
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(url)


async def start_ready(
    services: list[str],
    env: dict[str, str],
    ports: dict[str, int],
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """Start the services in order, each once the one before is ready; track them in `processes`."""
    for service in services:
        processes.append(start(service, env))
        await wait_ready(f"http://127.0.0.1:{ports[service]}", processes[-1])


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the service processes and wait for each to exit."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(15)

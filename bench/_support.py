"""What the benches share: service processes started as in `make dev`, awaited, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
from podium_runtime.devstack import service_ports
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


async def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll the readiness route until it answers 200."""
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + timeout
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


@contextlib.contextmanager
def dev_stack(
    port: int,
    env: dict[str, str] | None = None,
    workdir: Path | None = None,
    log: IO[bytes] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `make dev`'s stack (`podium_runtime.devstack`) on `port` until every service is ready.

    `env` adds settings to the environment; `workdir` replaces `.podium` (data of
    the embedded Postgres, Redis and broker); `log` receives the stack's output.
    The stack runs in its own session; leaving stops it as Ctrl-C would.
    """
    command = [sys.executable, "-m", "podium_runtime.devstack", "--port", str(port)]
    if workdir is not None:
        command += ["--workdir", str(workdir)]
    stack = subprocess.Popen(  # noqa: S603 - our own module
        command,
        env={**os.environ, **(env or {})},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for service_port in service_ports(port).values():
            asyncio.run(wait_ready(f"http://127.0.0.1:{service_port}", stack, timeout=300))
        yield stack
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)

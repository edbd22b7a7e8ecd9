"""What the benches share: service processes started as in `make dev`, awaited, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import gc
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


class LeanClient:
    """A lean HTTP/1.1 keep-alive client for the timed phases (like wrk, not like a browser).

    httpx spends about as much CPU per request as the gateway does; on a two-core
    machine that would measure the load generator. Each connection carries one
    request at a time; idle connections are reused.
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        lines = [
            f"Host: {self.host}:{self.port}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self.head = "\r\n".join(lines).encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> int:
        """POST `body` as JSON; return the status code (the answer body is read and dropped)."""
        status, _ = await self.request("POST", path, body)
        return status

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """Send one request (a body, JSON unless told, extra headers); return status and body."""
        extra = "".join(f"\r\n{k}: {v}" for k, v in (headers or {}).items()).encode()
        message = (
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self.head
            + extra
            + f"\r\nContent-Type: {content_type}\r\nContent-Length: ".encode()
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        while self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, message)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()  # the server closed an idle keep-alive connection
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, message)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
    ) -> tuple[int, bytes]:
        writer.write(message)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status, answer

    async def close(self) -> None:
        """Close every idle connection."""
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_groups(pids: dict[str, int], workdir: str) -> dict[str, set[int]]:
    """Map postgres, redis and kafka to the processes of this run's infrastructure (Linux).

    Every process below the bench (or below a process started with the run's work
    directory on its command line, like a detached postmaster) counts, classified by
    its name; the services' own processes are counted apart by `pids`.
    """
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    roots = {os.getpid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        with contextlib.suppress(OSError):
            parents[pid] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            names[pid] = (entry / "comm").read_text().strip()
            if workdir in (entry / "cmdline").read_bytes().decode(errors="replace"):
                roots.add(pid)
    services = set(pids.values())
    groups: dict[str, set[int]] = {"postgres": set(), "redis": set(), "kafka": set()}
    for pid in parents:
        chain, current = [], pid
        while current in parents and current not in roots and current > 1:
            chain.append(current)
            current = parents[current]
        if current not in roots or services & {pid, *chain}:
            continue
        name = names.get(pid, "")
        group = (
            "postgres"
            if name.startswith("postgres")
            else "redis"
            if name.startswith("redis")
            else "kafka"
            if name == "java"
            else None
        )
        if group:
            groups[group].add(pid)
    return groups


def cpu_seconds(
    pids: dict[str, int], groups: dict[str, set[int]], *, sampled: bool = False
) -> dict[str, float]:
    """User + system CPU seconds of each process, each group, and the whole machine (Linux).

    `sampled`: each service runs under py-spy, so its sampler's children are counted.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    with contextlib.suppress(OSError):
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        idle = int(fields[3]) + int(fields[4])
        seconds["machine"] = (sum(int(f) for f in fields[:8]) - idle) / ticks
    for name, pid in pids.items():
        stat = _proc_stat(pid)
        if stat is None:
            continue
        children = sampled and name != "bench"
        stats = [_proc_stat(c) for c in _children(pid)] if children else [stat]
        seconds[name] = sum(int(s[11]) + int(s[12]) for s in stats if s is not None) / ticks
    for name, members in groups.items():
        stats = [s for s in map(_proc_stat, members) if s is not None]
        if stats:
            seconds[name] = sum(int(s[11]) + int(s[12]) for s in stats) / ticks
    return seconds


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def cpu_cost(before: dict[str, float], after: dict[str, float], elapsed: float, count: int) -> str:
    """Return "CPU of one core: ...; CPU microseconds per operation: ..." between two readings.

    CPU per operation does not depend on what else the machine runs: compare runs by it.
    """
    # A process that exited in between (a Postgres backend) takes its time along: never below 0.
    used = {k: max(v - before.get(k, 0.0), 0.0) for k, v in after.items()}
    share = ", ".join(f"{k} {v / elapsed:.0%}" for k, v in used.items())
    cost = ", ".join(
        f"{k} {v * 1e6 / max(count, 1):.0f}" for k, v in used.items() if k != "machine"
    )
    return f"CPU of one core: {share}; CPU microseconds per operation: {cost}"


def freeze_harness() -> None:
    """Exempt the objects the benchmark holds so far from garbage collection.

    A service freezes its start-up heap (`podium_runtime.gcpolicy`) and keeps no board
    in memory; a benchmark keeps its own bookkeeping of every participant (100,000 of
    them). Without this, each full collection that the measured code's allocations
    trigger would also walk that bookkeeping, which no service holds: an arrival in
    the middle of a 100,000-line board spent a third to a half of its CPU on it.
    """
    gc.collect()
    gc.freeze()


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


#: Iterations of the host-speed probe's pure-Python loop.
PROBE_ITERATIONS = 10_000_000


def host_speed() -> float:
    """Return the seconds a pure-Python loop of `PROBE_ITERATIONS` additions takes here.

    The shared machine's speed swings by up to three times within an hour, and the same
    code's times with it. `make bench` prints this before each benchmark, so a reader can
    tell a slow run of fast code from a slow change: compare runs by it.
    """
    total, started = 0, time.process_time()
    for i in range(PROBE_ITERATIONS):
        total += i
    return time.process_time() - started


if __name__ == "__main__":
    print(f"host speed: a {PROBE_ITERATIONS:,}-addition Python loop took {host_speed():.2f} s")

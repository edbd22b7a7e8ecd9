"""Service replicas as separate processes (so they can be sent SIGTERM or SIGKILL) and a
watcher of consumer-group progress per partition."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from podium_runtime.ports import free_port, handed_over, listening_socket
from podium_runtime.testing import TestInfrastructure, eventually


@dataclass
class Replica:
    """One `python -m podium_<service> serve` process."""

    service: str
    process: subprocess.Popen[bytes]
    url: str

    def signal(self, signum: int) -> None:
        """Send `signum` to the replica's process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    async def exited(self, timeout: float = 30) -> int:
        """Await the process's exit; return its code."""

        async def gone() -> bool:
            return self.process.poll() is not None

        await eventually(gone, timeout=timeout, message=f"{self.service} replica exits")
        return int(self.process.returncode)


async def start_replica(
    service: str, infra: TestInfrastructure, log: Path, env: dict[str, str] | None = None
) -> Replica:
    """Start another replica of `service` on `infra` (plus `env`); return once it is ready."""
    listening = listening_socket(free_port())
    port = listening.getsockname()[1]
    prefix = f"PODIUM_{service.upper()}_"
    environment = {
        **os.environ,
        **infra.infra.environment(),
        "DATABASE_URL": infra.database_url,
        "KAFKA_TOPIC_PREFIX": infra.topic_prefix,
        prefix + "PORT": str(port),
        prefix + "LOG_JSON": "true",
        **(env or {}),
    }
    output = log.open("ab")
    # The replica accepts on the socket bound above; it keeps its own copy once started.
    child_env, fds = handed_over(listening, environment)
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own module; Popen returns at once
        [sys.executable, "-m", f"podium_{service}", "serve"],
        env=child_env,
        pass_fds=fds,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output.close()
    listening.close()
    replica = Replica(service, process, f"http://127.0.0.1:{port}")

    async def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{service} replica exited with {process.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient() as client:
                return (await client.get(replica.url + "/health/ready")).status_code == 200
        return False

    await eventually(ready, timeout=90, interval=0.2, message=f"{service} replica ready")
    return replica


def stop_replicas(replicas: list[Replica]) -> None:
    """Kill whatever is left of `replicas` (test clean-up)."""
    for replica in replicas:
        if replica.process.poll() is None:
            replica.signal(signal.SIGKILL)
            replica.process.wait()


async def group_members(bootstrap: str, group: str) -> int:
    """Return how many members consumer group `group` has right now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        described = response.groups[0]
        members = next(part for part in described if isinstance(part, list))
        return len(members)
    finally:
        await admin.close()


@dataclass
class ProgressWatch:
    """Per partition, the longest time a group had records to consume and made no progress."""

    bootstrap: str
    #: group -> (topic's full name, its partition count) watched for it
    groups: dict[str, tuple[str, int]]
    interval: float = 0.2
    #: How many times every partition was looked at.
    samples: int = 0
    longest_stall: dict[tuple[str, TopicPartition], float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await admin.start()
        await reader.start()
        last: dict[tuple[str, TopicPartition], tuple[int, float]] = {}
        try:
            while True:
                now = time.monotonic()
                for group, (topic, count) in self.groups.items():
                    partitions = [TopicPartition(topic, p) for p in range(count)]
                    ends = await reader.end_offsets(partitions)
                    committed = await admin.list_consumer_group_offsets(
                        group, partitions=partitions
                    )
                    for tp in partitions:
                        position = committed[tp].offset if tp in committed else 0
                        key = (group, tp)
                        previous = last.get(key)
                        if previous is None or position != previous[0] or position >= ends[tp]:
                            last[key] = (position, now)
                        stalled = now - last[key][1]
                        self.longest_stall[key] = max(self.longest_stall.get(key, 0.0), stalled)
                self.samples += 1
                await asyncio.sleep(self.interval)
        finally:
            await reader.stop()
            await admin.close()

    def start(self) -> None:
        """Start watching in the background."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop watching; a watcher that failed earlier raises here."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def worst(self, group: str) -> float:
        """Return the longest stall of any partition of `group`, in seconds."""
        return max((s for (g, _), s in self.longest_stall.items() if g == group), default=0.0)

"""Find the stack's processes and sample their CPU time and RSS with psutil while Locust runs.

A stack started by the load test is found from the `devstack` process down;
a running stack given by URL from the processes listening on the service
ports (the gateway's and the ones after it, as `make dev` lays them out),
and, when they run under `devstack`, everything below it. The embedded
Postgres (pgserver) runs detached from that tree: it is found by its data
directory, `<workdir>/pg`, with its connection processes below it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import psutil
from podium_runtime.devstack import SERVICES, service_ports

from loadtest.report import Sample


def group_of(cmdline: list[str], name: str) -> str:
    """Name the part of the stack a process is, from its command line."""
    joined = " ".join(cmdline)
    for service in SERVICES:
        if f"podium_{service}" in cmdline or f"-m podium_{service} " in f"{joined} ":
            return service
    if "podium_runtime.devstack" in joined:
        return "devstack (supervisor, log relay)"
    if "kafka" in joined and ("java" in name or "java" in joined.split(" ", 1)[0]):
        return "kafka (Apache Kafka, JVM)"
    if "tansu" in name or "tansu" in joined:
        return "kafka (tansu)"
    if "redis-server" in name or "redis-server" in joined:
        return "redis"
    if name.startswith("postgres") or joined.startswith("postgres"):
        return "postgres"
    if "locust" in joined:
        return "locust (load generator)"
    return name


def _tree(root: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [root, *root.children(recursive=True)]
    return []


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Return the Postgres server whose data directory is `data_dir`, with its children."""
    wanted = str(data_dir.resolve())
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if (process.info["name"] or "").startswith("postgres") and any(
            wanted in part for part in cmdline
        ):
            return _tree(process)
    return []


def listening_on(ports: Iterable[int]) -> list[psutil.Process]:
    """Return the processes (of this user) listening on any of `ports` on this machine."""
    wanted, found = set(ports), {}
    for connection in psutil.net_connections(kind="tcp"):
        if (
            connection.status == psutil.CONN_LISTEN
            and connection.laddr
            and connection.laddr.port in wanted
            and connection.pid
        ):
            with contextlib.suppress(psutil.Error):
                found[connection.pid] = psutil.Process(connection.pid)
    return list(found.values())


def devstack_of(processes: list[psutil.Process]) -> psutil.Process | None:
    """Return the `podium_runtime.devstack` process above these, if they run under one."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for parent in process.parents():
                if "podium_runtime.devstack" in " ".join(parent.cmdline()):
                    return parent
    return None


def workdir_of(devstack: psutil.Process) -> Path:
    """Return the `--workdir` a devstack process runs with (`.podium` in its cwd by default)."""
    cmdline = devstack.cmdline()
    if "--workdir" in cmdline[:-1]:
        given = Path(cmdline[cmdline.index("--workdir") + 1])
        return given if given.is_absolute() else Path(devstack.cwd()) / given
    return Path(devstack.cwd()) / ".podium"


class StackProcesses:
    """Which processes to sample: trees below some roots, plus the detached Postgres."""

    def __init__(self, roots: list[psutil.Process], postgres_dir: Path | None) -> None:
        self.roots = roots
        self.postgres_dir = postgres_dir

    @classmethod
    def of_running_stack(cls, gateway_port: int) -> StackProcesses:
        """Find a running `make dev`-style stack from the ports its services listen on."""
        services = listening_on(service_ports(gateway_port).values())
        devstack = devstack_of(services)
        if devstack is None:
            return cls(services, None)
        return cls([devstack], workdir_of(devstack) / "pg")

    def current(self) -> list[psutil.Process]:
        """Return every process of the stack now (new connections and restarts included)."""
        found: dict[int, psutil.Process] = {}
        for root in self.roots:
            found.update((process.pid, process) for process in _tree(root))
        if self.postgres_dir is not None:
            found.update((p.pid, p) for p in postgres_processes(self.postgres_dir))
        return list(found.values())


def sample(processes: Iterable[tuple[str | None, psutil.Process]], at: float) -> list[Sample]:
    """Read each process's CPU time and RSS now; `None` as group names it from its command line."""
    samples = []
    for group, process in processes:
        with contextlib.suppress(psutil.Error):
            with process.oneshot():
                times = process.cpu_times()
                samples.append(
                    Sample(
                        at=at,
                        group=group or group_of(process.cmdline(), process.name()),
                        pid=process.pid,
                        created=process.create_time(),
                        cpu_seconds=times.user + times.system,
                        rss_bytes=process.memory_info().rss,
                    )
                )
    return samples


class Sampler(threading.Thread):
    """Samples the stack (and the load generator) every `interval` seconds until stopped."""

    def __init__(self, stack: StackProcesses, interval: float = 1.0) -> None:
        super().__init__(name="loadtest-sampler", daemon=True)
        self.stack = stack
        self.interval = interval
        self.extra: list[tuple[str, psutil.Process]] = []
        self.samples: list[Sample] = []
        self.load: list[float] = []
        self._stopping = threading.Event()

    def watch(self, group: str, pid: int) -> None:
        """Sample this process too (and its children), under `group`."""
        with contextlib.suppress(psutil.Error):
            self.extra.extend((group, process) for process in _tree(psutil.Process(pid)))

    def run(self) -> None:
        """Take a sample now and every `interval` seconds."""
        while True:
            at = time.time()
            chosen = [(None, process) for process in self.stack.current()]
            self.samples += sample([*chosen, *self.extra], at)
            self.load.append(psutil.getloadavg()[0])
            if self._stopping.wait(self.interval):
                return

    def stop(self) -> None:
        """Take a last sample and stop."""
        self._stopping.set()
        self.join(30)
        self.samples += sample(
            [*((None, p) for p in self.stack.current()), *self.extra], time.time()
        )

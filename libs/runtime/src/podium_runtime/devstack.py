"""`make dev`: infrastructure, topics, migrations and every service in one terminal (SPEC §3).

Uses the URLs in the environment where set, otherwise embedded processes (see
`infra`). Every service runs in its own process group with prefixed, coloured
log lines; a service that dies is reported and restarted with backoff
(`Supervisor`); Ctrl-C (or SIGTERM) stops the services, then the infrastructure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from podium_runtime.infra import Infrastructure, create_topics, ensure_database, provision
from podium_runtime.ports import free_block, handed_over, listening_socket

SERVICES = ("gateway", "identity", "competitions", "scoring", "ingest", "notifier", "rewards")
MIGRATED = SERVICES[1:]
COLOURS = ("36", "33", "35", "32", "34", "31", "96")


def service_ports(gateway_port: int) -> dict[str, int]:
    """Return the port of every service: the gateway's, then the ones after it."""
    return {name: gateway_port + i for i, name in enumerate(SERVICES)}


def service_environment(
    infra: Infrastructure, ports: dict[str, int], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Return the environment every service process gets."""
    env = dict(os.environ)
    env.update(infra.environment())
    for name, port in ports.items():
        prefix = f"PODIUM_{name.upper()}_"
        env.setdefault(prefix + "PORT", str(port))
        env.setdefault(f"PODIUM_GATEWAY_{name.upper()}_URL", f"http://127.0.0.1:{port}")
        env.setdefault(prefix + "LOG_JSON", "false")
    env.update(extra or {})
    return env


def dev_mail_environment(workdir: Path, gateway_port: int) -> dict[str, str]:
    """Point the notifier at a development SMTP sink it runs itself, unless SMTP is configured.

    Mails land in `<workdir>/mails` and are listed at the notifier's
    `GET /internal/dev/mails`, so verification links can be clicked (SPEC §3, §7.4).
    """
    if "PODIUM_NOTIFIER_SMTP_HOST" in os.environ:
        return {}
    return {
        "PODIUM_NOTIFIER_DEV_SMTP_SINK": "true",
        "PODIUM_NOTIFIER_SMTP_HOST": "127.0.0.1",
        "PODIUM_NOTIFIER_SMTP_PORT": os.environ.get(
            "PODIUM_NOTIFIER_SMTP_PORT", str(gateway_port + len(SERVICES))
        ),
        "PODIUM_NOTIFIER_DEV_MAIL_DIR": str(workdir / "mails"),
        "PODIUM_NOTIFIER_PUBLIC_BASE_URL": os.environ.get(
            "PODIUM_NOTIFIER_PUBLIC_BASE_URL", f"http://127.0.0.1:{gateway_port}"
        ),
    }


def _pump(name: str, colour: str, stream: object) -> None:
    """Copy a child's output to ours, each line prefixed with the service name."""
    tag = f"\033[{colour}m{name:>12}\033[0m | " if sys.stdout.isatty() else f"{name:>12} | "
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(tag + raw.decode(errors="replace"))
        sys.stdout.flush()


def _stop_group(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Terminate a child's whole process group; kill it if it does not leave in time."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Interrupted(Exception):
    """Ctrl-C arrived while starting up."""


@dataclass
class Supervised:
    """One supervised child: how to start it, the running process, its restart schedule."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes]
    started_at: float
    restarts: int = 0
    failures: int = 0
    restart_at: float | None = None


class Supervisor:
    """Restarts a service that died, with capped exponential backoff, instead of stopping all.

    What an operator expects of a process manager (and what fault tests need:
    `kill -9` of one service must leave the stack running). A child that stayed
    up for `stable_after` seconds starts its backoff from the beginning again.
    """

    def __init__(
        self,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        stable_after: float = 60.0,
        report: Callable[[str], None] = print,
    ) -> None:
        self.children: dict[str, Supervised] = {}
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.report = report

    def add(self, name: str, start: Callable[[], subprocess.Popen[bytes]]) -> Supervised:
        """Start `name` now and supervise it."""
        child = Supervised(name, start, start(), time.monotonic())
        self.children[name] = child
        return child

    def poll(self) -> None:
        """Notice children that exited, schedule their restart, restart those that are due."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.process = child.start()
                    child.started_at, child.restart_at = now, None
                    child.restarts += 1
                    self.report(f"podium: {child.name} restarted (restart {child.restarts})")
                continue
            code = child.process.poll()
            if code is None:
                continue
            if now - child.started_at >= self.stable_after:
                child.failures = 0
            delay = min(self.initial_backoff * 2**child.failures, self.max_backoff)
            child.failures += 1
            child.restart_at = now + delay
            self.report(f"podium: {child.name} exited with {code}; restarting in {delay:.0f}s")

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """Return the current process of every child."""
        return [child.process for child in self.children.values()]


def wait_all_ready(
    urls: dict[str, str],
    supervisor: Supervisor,
    stopping: threading.Event,
    timeout: float,
    max_exits: int = 5,
) -> None:
    """Poll every service's readiness URL until each answers 200, or fail after `timeout` s.

    The supervisor keeps running meanwhile: a service that exits while starting (a
    dependency that was not answering yet) is restarted as it would be later, and a
    slow machine only costs time. One that exits `max_exits` times before it is ready
    will not start (a bad setting, say): that fails at once. A failure names the
    services still not ready and what each last answered.
    """
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    last: dict[str, str] = {}
    with httpx.Client(timeout=2) as client:
        while pending:
            if stopping.is_set():
                raise Interrupted
            if time.monotonic() >= deadline:
                waiting = "; ".join(f"{n} ({last.get(n, 'no answer')})" for n in pending)
                raise TimeoutError(f"not ready after {timeout:.0f}s: {waiting}")
            supervisor.poll()
            for name in pending:
                if supervisor.children[name].failures >= max_exits:
                    raise RuntimeError(f"{name} exited {max_exits} times while starting")
            for name, url in list(pending.items()):
                try:
                    status = client.get(url).status_code
                except httpx.HTTPError as error:
                    last[name] = type(error).__name__
                    continue
                if status == 200:
                    del pending[name]
                else:
                    last[name] = f"HTTP {status}"
            stopping.wait(0.2)


def _service_starter(
    name: str, colour: str, env: dict[str, str], listening: socket.socket
) -> Callable[[], subprocess.Popen[bytes]]:
    """Return how to start one service on its listening socket, its output prefixed by
    its name. A restarted service accepts on the same socket."""
    child_env, fds = handed_over(listening, env)

    def start() -> subprocess.Popen[bytes]:
        child = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", f"podium_{name}", "serve"],
            env=child_env,
            pass_fds=fds,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=_pump, args=(name, colour, child.stdout), daemon=True).start()
        return child

    return start


def run(workdir: Path, gateway_port: int, ready_timeout: float = 300.0) -> int:
    """Start everything, print the gateway URL, and wait for Ctrl-C.

    Every service must answer its readiness check within `ready_timeout` seconds.
    A `gateway_port` of 0 takes a free block of ports; the URL printed names it.
    """
    started = time.monotonic()
    print(f"podium: starting infrastructure in {workdir} ...", flush=True)
    infra = provision(workdir)
    supervisor = Supervisor(report=lambda line: print(line, flush=True))
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    listening: dict[str, socket.socket] = {}
    try:
        for name, source in infra.sources.items():
            print(f"podium: {name} from {source}", flush=True)
        infra.database_url = asyncio.run(ensure_database(infra.database_url, "podium"))
        asyncio.run(create_topics(infra.kafka_bootstrap_servers))
        if gateway_port == 0:
            # Picked once the infrastructure listens, so it cannot take these ports.
            gateway_port = free_block(len(SERVICES) + 1)
        ports = service_ports(gateway_port)
        env = service_environment(infra, ports, dev_mail_environment(workdir, gateway_port))
        # Links in mails and the platform's xAPI accounts name the gateway actually served.
        for key in ("PODIUM_GATEWAY_PUBLIC_BASE_URL", "PODIUM_INGEST_PLATFORM_URL"):
            env.setdefault(key, f"http://127.0.0.1:{gateway_port}")
        # Development signing keys live in the git-ignored workdir; identity creates one if absent.
        env.setdefault("PODIUM_IDENTITY_JWT_KEYS_DIR", str(workdir / "keys"))
        env.setdefault("PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY", "true")
        print("podium: migrating " + ", ".join(MIGRATED), flush=True)
        migrations = [
            subprocess.Popen([sys.executable, "-m", f"podium_{n}", "migrate"], env=env)  # noqa: S603
            for n in MIGRATED
        ]
        if any(m.wait() != 0 for m in migrations):
            print("podium: a migration failed", file=sys.stderr)
            return 1
        # Bound here and held while the stack runs: no other process can take a port
        # while its service starts or restarts.
        listening.update({name: listening_socket(ports[name]) for name in SERVICES})
        for index, name in enumerate(SERVICES):
            supervisor.add(name, _service_starter(name, COLOURS[index], env, listening[name]))
        ready_urls = {n: f"http://127.0.0.1:{ports[n]}/health/ready" for n in SERVICES}
        wait_all_ready(ready_urls, supervisor, stopping, ready_timeout)
        elapsed = time.monotonic() - started
        print(
            f"\npodium: all services ready in {elapsed:.1f}s\n"
            f"podium: open http://127.0.0.1:{gateway_port}/  "
            "(the web app; API docs at /docs) - Ctrl-C stops everything\n"
            + (
                f"podium: dev mails at http://127.0.0.1:{ports['notifier']}/internal/dev/mails\n"
                if env.get("PODIUM_NOTIFIER_DEV_SMTP_SINK") == "true"
                else ""
            ),
            flush=True,
        )
        while not stopping.is_set():
            supervisor.poll()  # a service that dies is reported and restarted
            stopping.wait(0.5)
        return 0
    except Interrupted:
        return 130
    except Exception as error:
        # On stdout too, so whoever reads only the log (a test harness) sees why.
        print(f"podium: could not start: {error}", flush=True)
        raise
    finally:
        print("podium: stopping services ...", flush=True)
        for child in supervisor.processes():
            _stop_group(child)
        for held in listening.values():
            held.close()
        infra.stop()
        print("podium: stopped", flush=True)


def main() -> None:
    """Entry point of `make dev`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".podium"))
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PODIUM_GATEWAY_PORT", "8000")),
        help="the gateway's port; the other services take the ones after it "
        "(0: a free block, picked once the infrastructure is up)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=float(os.environ.get("PODIUM_DEV_READY_TIMEOUT", "300")),
        help="seconds every service gets to answer /health/ready (default 300)",
    )
    options = parser.parse_args()
    sys.exit(run(options.workdir.resolve(), options.port, options.ready_timeout))


if __name__ == "__main__":
    main()

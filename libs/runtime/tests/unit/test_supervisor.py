"""`make dev` supervises its services: one that dies is restarted, the others keep running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from podium_runtime.devstack import Supervisor, wait_all_ready
from podium_runtime.ports import free_port

# A stand-in service: exits with 3 on its first start (a dependency not answering
# yet), then serves every GET with the status it is given.
_SERVICE = """
import http.server, os, sys
port, marker, status = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit(3)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def _poll_until(supervisor: Supervisor, condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        supervisor.poll()
        time.sleep(0.02)


def test_a_killed_service_is_reported_and_restarted_with_backoff() -> None:
    lines: list[str] = []
    supervisor = Supervisor(initial_backoff=0.05, max_backoff=0.2, report=lines.append)
    victim = supervisor.add("scoring", _sleeper)
    bystander = supervisor.add("ingest", _sleeper)
    try:
        first, other = victim.process.pid, bystander.process.pid
        os.kill(first, signal.SIGKILL)
        _poll_until(supervisor, lambda: victim.restarts == 1 and victim.process.poll() is None)
        assert victim.process.pid != first
        assert bystander.process.pid == other and bystander.process.poll() is None
        assert any("scoring exited with -9" in line for line in lines)

        os.kill(victim.process.pid, signal.SIGKILL)  # dies again at once: a longer wait
        _poll_until(supervisor, lambda: victim.restart_at is not None)
        assert victim.restart_at is not None
        assert victim.restart_at - time.monotonic() > 0.05
        _poll_until(supervisor, lambda: victim.restarts == 2)
    finally:
        for process in supervisor.processes():
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def _service(port: int, marker: Path, status: int) -> Callable[[], subprocess.Popen[bytes]]:
    def start() -> subprocess.Popen[bytes]:
        args = [sys.executable, "-c", _SERVICE, str(port), str(marker), str(status)]
        return subprocess.Popen(args)  # noqa: S603 - the stand-in above

    return start


def test_start_up_waits_for_every_service_and_restarts_one_that_exits_meanwhile(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    supervisor = Supervisor(initial_backoff=0.05, max_backoff=0.2, report=lines.append)
    ports = {"identity": free_port(), "scoring": free_port()}
    for name, port in ports.items():
        supervisor.add(name, _service(port, tmp_path / name, 200))
    urls = {name: f"http://127.0.0.1:{port}/health/ready" for name, port in ports.items()}
    try:
        wait_all_ready(urls, supervisor, threading.Event(), timeout=60)
        assert all(child.restarts == 1 for child in supervisor.children.values())
        assert any("identity exited with 3" in line for line in lines)
    finally:
        for process in supervisor.processes():
            process.kill()
            process.wait()


def test_start_up_that_never_gets_ready_names_the_service_and_its_last_answer(
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(report=lambda line: None)
    port, marker = free_port(), tmp_path / "ingest"
    marker.touch()  # this one starts at once and stays up, answering 503
    supervisor.add("ingest", _service(port, marker, 503))
    url = f"http://127.0.0.1:{port}/health/ready"
    try:
        _poll_until(supervisor, lambda: _answers(url))
        with pytest.raises(TimeoutError, match=r"not ready after 1s: ingest \(HTTP 503\)"):
            wait_all_ready({"ingest": url}, supervisor, threading.Event(), timeout=1)
    finally:
        for process in supervisor.processes():
            process.kill()
            process.wait()


def test_start_up_gives_up_on_a_service_that_keeps_exiting(tmp_path: Path) -> None:
    supervisor = Supervisor(initial_backoff=0.01, max_backoff=0.01, report=lambda line: None)
    supervisor.add("notifier", lambda: subprocess.Popen([sys.executable, "-c", "exit(2)"]))
    url = f"http://127.0.0.1:{free_port()}/health/ready"
    try:
        with pytest.raises(RuntimeError, match="notifier exited 3 times while starting"):
            wait_all_ready({"notifier": url}, supervisor, threading.Event(), 60, max_exits=3)
    finally:
        for process in supervisor.processes():
            process.kill()
            process.wait()

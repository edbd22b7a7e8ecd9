"""`make dev` supervises its services: one that dies is restarted, the others keep running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from podium_runtime.devstack import Supervisor


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

"""`make dev`: infrastructure, topics, migrations and every service in one terminal (SPEC §3).

Uses the URLs in the environment where set, otherwise embedded processes (see
`infra`). Every service runs in its own process group with prefixed, coloured
log lines; Ctrl-C (or SIGTERM) stops the services, then the infrastructure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from podium_runtime.infra import Infrastructure, create_topics, ensure_database, provision

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


def wait_ready(
    url: str, process: subprocess.Popen[bytes], stopping: threading.Event, timeout: float = 90.0
) -> None:
    """Poll `url` until it answers 200; fail if the process exits first or Ctrl-C arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stopping.is_set():
            raise Interrupted
        if process.poll() is not None:
            raise RuntimeError(f"{url} process exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def run(workdir: Path, gateway_port: int) -> int:
    """Start everything, print the gateway URL, and wait for Ctrl-C."""
    started = time.monotonic()
    print(f"podium: starting infrastructure in {workdir} ...", flush=True)
    infra = provision(workdir)
    children: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, source in infra.sources.items():
            print(f"podium: {name} from {source}", flush=True)
        infra.database_url = asyncio.run(ensure_database(infra.database_url, "podium"))
        asyncio.run(create_topics(infra.kafka_bootstrap_servers))
        ports = service_ports(gateway_port)
        env = service_environment(infra, ports, dev_mail_environment(workdir, gateway_port))
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
        for index, name in enumerate(SERVICES):
            child = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", f"podium_{name}", "serve"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            children.append(child)
            threading.Thread(
                target=_pump, args=(name, COLOURS[index], child.stdout), daemon=True
            ).start()
        for name, child in zip(SERVICES, children, strict=True):
            wait_ready(f"http://127.0.0.1:{ports[name]}/health/ready", child, stopping)
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
            for name, child in zip(SERVICES, children, strict=True):
                if child.poll() is not None:
                    print(f"podium: {name} exited with {child.returncode}; stopping", flush=True)
                    stopping.set()
            stopping.wait(0.5)
        return 0
    except Interrupted:
        return 130
    finally:
        print("podium: stopping services ...", flush=True)
        for child in children:
            _stop_group(child)
        infra.stop()
        print("podium: stopped", flush=True)


def main() -> None:
    """Entry point of `make dev`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".podium"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PODIUM_GATEWAY_PORT", "8000"))
    )
    options = parser.parse_args()
    sys.exit(run(options.workdir.resolve(), options.port))


if __name__ == "__main__":
    main()

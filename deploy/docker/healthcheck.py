"""Container HEALTHCHECK: GET /health/live of the service this container runs.

One image runs every service (docs/adr/0003-container-image.md), so the
service is read from the main process's command line (`python -m
podium_<service> serve`) and its port from `PODIUM_<SERVICE>_PORT`. One-shot
commands (`migrate`) count as healthy while they run.
"""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

#: Default ports (SPEC §3), used when `PODIUM_<SERVICE>_PORT` is not set.
DEFAULT_PORTS = {
    "gateway": 8000,
    "identity": 8001,
    "competitions": 8002,
    "scoring": 8003,
    "ingest": 8004,
    "notifier": 8005,
}


def main_command(cmdline: Path = Path("/proc/1/cmdline")) -> list[str]:
    """Return the argv of the container's main process."""
    return [part.decode() for part in cmdline.read_bytes().split(b"\0") if part]


def target(argv: list[str], environ: dict[str, str]) -> tuple[str, int] | None:
    """Return (service, port) to probe, or None when the process is not a server."""
    modules = [a for a in argv if a.startswith("podium_")]
    if not modules or "serve" not in argv:
        return None
    service = modules[0].removeprefix("podium_")
    port = int(environ.get(f"PODIUM_{service.upper()}_PORT", DEFAULT_PORTS.get(service, 8000)))
    return service, port


def probe(port: int, timeout: float = 3.0) -> bool:
    """Return whether /health/live on this port answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health/live")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def main() -> int:
    """Exit 0 when the service is live (or not a server), 1 otherwise."""
    found = target(main_command(), dict(os.environ))
    if found is None:
        return 0
    return 0 if probe(found[1]) else 1


if __name__ == "__main__":
    sys.exit(main())

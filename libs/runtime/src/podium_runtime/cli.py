"""Command line shared by every service: `python -m podium_<service> serve|migrate`."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI

from podium_runtime.logs import configure_logging
from podium_runtime.migrations import upgrade
from podium_runtime.serving import serve
from podium_runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def run_service(
    settings: S,
    create_api: Callable[[S], FastAPI],
    migrations: Path | None,
    schema: str | None,
    extra_commands: dict[str, Callable[[S, list[str]], int]] | None = None,
    argv: list[str] | None = None,
) -> int:
    """Parse the command line and run `serve`, `migrate` or a service-specific command."""
    parser = argparse.ArgumentParser(prog=f"podium-{settings.service_name}")
    parser.add_argument("command", choices=["serve", "migrate", *(extra_commands or {})])
    parser.add_argument("--migrate", action="store_true", help="with serve: migrate first")
    parser.add_argument("args", nargs="*")
    options = parser.parse_args(argv)
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if options.command in ("migrate",) or (options.command == "serve" and options.migrate):
        if migrations is not None and schema is not None:
            upgrade(migrations, settings.database_url, schema)
        if options.command == "migrate":
            return 0
    if options.command == "serve":
        # A socket bound by whoever started this process, or none: uvicorn binds its own.
        handed = settings.listen_fd
        serve(
            create_api(settings),
            sockets=[socket.socket(fileno=handed)] if handed is not None else None,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
            timeout_keep_alive=settings.keep_alive_seconds,
            # Forwarded headers are read by the gateway against its trusted proxies only;
            # uvicorn would otherwise trust them from loopback (a sidecar, `make dev`).
            proxy_headers=False,
        )
        return 0
    assert extra_commands is not None
    return extra_commands[options.command](settings, options.args)

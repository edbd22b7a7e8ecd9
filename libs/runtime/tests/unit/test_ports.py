"""Listening ports are picked below the kernel's range for outgoing connections, and a
service process accepts on the socket whoever started it bound for it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from podium_runtime import ports
from podium_runtime.ports import (
    LOWEST,
    ephemeral_start,
    free_block,
    free_port,
    handed_over,
    listening_socket,
    port_free,
)
from podium_runtime.testing import eventually


def test_a_free_port_lies_below_the_range_outgoing_connections_take() -> None:
    ports = {free_port() for _ in range(50)}
    assert all(LOWEST <= port < ephemeral_start() for port in ports)
    assert len(ports) > 1  # picked at random, not the same one each time


def test_a_block_is_consecutive_free_ports_below_that_range() -> None:
    first = free_block(8)
    assert LOWEST <= first and first + 8 <= ephemeral_start()
    assert all(port_free(first + i) for i in range(8))


def test_a_port_a_server_listens_on_is_not_free() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen()
        assert not port_free(server.getsockname()[1])


def test_the_ephemeral_range_is_the_kernels_or_linuxs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("40000\t50000\n")
    monkeypatch.setattr(ports, "_RANGE_FILE", setting)
    assert ephemeral_start() == 40_000
    monkeypatch.setattr(ports, "_RANGE_FILE", tmp_path / "absent")
    assert ephemeral_start() == 32_768


# A service of one route, started as `python -m podium_<name> serve` starts: its settings
# name the port given as the first argument.
_PROBE = """
import sys
from fastapi import FastAPI
from podium_runtime.cli import run_service
from podium_runtime.settings import ServiceSettings

app = FastAPI()
app.get("/who")(lambda: {"service": "probe"})
settings = ServiceSettings(service_name="probe", port=int(sys.argv[1]))
run_service(settings, lambda _: app, None, None, argv=["serve"])
"""


async def test_a_service_accepts_on_the_socket_it_is_handed() -> None:
    # The port its settings name is held by another socket: binding it would fail.
    with listening_socket(free_port()) as taken, listening_socket(free_port()) as handed:
        env, fds = handed_over(handed, os.environ)
        child = subprocess.Popen(  # noqa: S603, ASYNC220 - this interpreter; returns at once
            [sys.executable, "-c", _PROBE, str(taken.getsockname()[1])], env=env, pass_fds=fds
        )
        url = f"http://127.0.0.1:{handed.getsockname()[1]}/who"

        async def answered() -> dict[str, str] | None:
            assert child.poll() is None, "the service exited"
            with contextlib.suppress(httpx.TransportError):
                async with httpx.AsyncClient() as client:
                    return (await client.get(url)).json()  # type: ignore[no-any-return]
            return None

        try:
            assert await eventually(answered, timeout=60, message="probe serving") == {
                "service": "probe"
            }
        finally:
            child.terminate()
            child.wait(timeout=30)

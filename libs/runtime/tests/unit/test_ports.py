"""Listening ports are picked below the kernel's range for outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from podium_runtime import ports
from podium_runtime.ports import LOWEST, ephemeral_start, free_block, free_port, port_free


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

"""Picking TCP ports for servers the project starts itself (dev stack, tests, benchmarks).

A port from `bind(("127.0.0.1", 0))` comes from the kernel's ephemeral range, the
same range every outgoing connection takes its local port from. A server that
binds it seconds later (a service still importing, a broker still booting) can
find a Postgres or Kafka client connection of another process sitting on it, and
then fails with "address already in use". So listening ports are picked at random
below that range, where no outgoing connection goes.

Whoever starts a service process binds its port first (`listening_socket`) and hands
the socket over (`handed_over`): the service accepts on it, so no other process can
take the port while the service starts, or while it restarts.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from pathlib import Path

#: Lowest port handed out; below it sit well-known and registered services.
LOWEST = 10_000
#: Linux's default start of the ephemeral range, used where it cannot be read.
_DEFAULT_EPHEMERAL_START = 32_768
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_start() -> int:
    """Return the first port of the kernel's range for outgoing connections."""
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def port_free(port: int) -> bool:
    """Return whether a server could listen on `127.0.0.1:port` right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_block(count: int, attempts: int = 200) -> int:
    """Return the first of `count` consecutive ports that were free a moment ago.

    The ports lie below the ephemeral range (see the module docstring). Raises
    `RuntimeError` when `attempts` random tries found no free block.
    """
    top = max(ephemeral_start(), LOWEST + 1_000) - count
    for _ in range(attempts):
        # The system's randomness: a seeded `random` (a property test) picks no one's port.
        first = LOWEST + secrets.randbelow(top - LOWEST + 1)
        if all(port_free(first + i) for i in range(count)):
            return first
    raise RuntimeError(f"no {count} free consecutive ports found in {attempts} tries")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral range."""
    return free_block(1)


#: The environment variable that hands a service process a listening socket: its
#: descriptor number (`ServiceSettings.listen_fd`).
LISTEN_FD = "PODIUM_LISTEN_FD"


def listening_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """Bind `host:port` and listen now, for a service process to accept on later."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def handed_over(
    sock: socket.socket, env: Mapping[str, str]
) -> tuple[dict[str, str], tuple[int, ...]]:
    """Return the environment and `pass_fds` that make a child process serve on `sock`."""
    return {**env, LISTEN_FD: str(sock.fileno())}, (sock.fileno(),)

"""The caller's IP address, from the socket and the proxies the operator trusts (SPEC §8).

Rate limits key on the client's address, so it must not be something a client
can choose. `X-Forwarded-For` is read only when the connection comes from a
trusted proxy (`trusted_proxies`, a list of CIDRs), and then from the right:
each trusted hop appended the address it saw, so the right-most address that
is not a trusted proxy is the client. Anything a client wrote further left is
ignored. uvicorn's own forwarded-header handling is off (`podium_runtime.cli`),
so this is the only place the header is read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from fastapi import Request
from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse CIDRs (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def resolve_client_ip(peer: str, forwarded_for: str | None, networks: Sequence[Network]) -> str:
    """Return the right-most address of the chain `forwarded_for, peer` that is not trusted."""
    if not networks or not _trusted(peer, networks) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")[-32:]]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client  # garbage written by whoever is left of the last trusted hop
        client = hop
        if not _trusted(hop, networks):
            return hop
    return client


def client_ip(request: Request, trusted_proxies: Sequence[str]) -> str:
    """Return the caller's IP for rate limits and audit."""
    return scope_client_ip(request.scope, trusted_proxies)


def scope_client_ip(scope: Scope, trusted_proxies: Sequence[str]) -> str:
    """Return the caller's IP from an ASGI scope (the edge's read path, `edge_reads`)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    forwarded_for = None
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            # The first one, as `Request.headers.get` reads it.
            forwarded_for = value.decode("latin-1")
            break
    return resolve_client_ip(peer, forwarded_for, parse_networks(tuple(trusted_proxies)))

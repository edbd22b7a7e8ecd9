"""The client address behind trusted proxies: the right-most untrusted hop (SPEC §8)."""

from __future__ import annotations

import pytest
from podium_gateway.client_ip import parse_networks, resolve_client_ip

PROXIES = parse_networks(("10.0.0.0/8", "192.168.1.7"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No trusted proxy configured: the header is ignored, whatever it says.
        ("198.51.100.9", "203.0.113.1", "198.51.100.9"),
        # A direct client cannot choose its address by sending the header.
        ("198.51.100.9", "10.0.0.1", "198.51.100.9"),
        # Behind the ingress: the address it appended.
        ("10.1.2.3", "203.0.113.5", "203.0.113.5"),
        # A client-written prefix is ignored: the right-most untrusted hop wins.
        ("10.1.2.3", "1.1.1.1, 203.0.113.5", "203.0.113.5"),
        # Two trusted hops: skipped from the right.
        ("10.1.2.3", "203.0.113.5, 192.168.1.7", "203.0.113.5"),
        # Garbage left of the last trusted hop: that hop is the client.
        ("10.1.2.3", "not-an-ip, 10.9.9.9", "10.9.9.9"),
        ("10.1.2.3", "", "10.1.2.3"),
        ("10.1.2.3", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_right_most_untrusted_hop(peer: str, forwarded: str, expected: str) -> None:
    assert resolve_client_ip(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_socket_address_is_the_client() -> None:
    assert resolve_client_ip("198.51.100.9", "203.0.113.1", ()) == "198.51.100.9"

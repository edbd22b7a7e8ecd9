"""Build multipart/mixed xAPI requests (Communication 1.5.2) for the tests."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx


def multipart(
    statements: Any,
    *parts: tuple[bytes, dict[str, str]],
    boundary: str = "abcABC0123'()+_,-./:=?",
) -> tuple[bytes, dict[str, str]]:
    """Build a request the way xAPI's own example does (Comm. 1.5.2)."""
    delimiter = b"--" + boundary.encode()
    chunks = [delimiter, b"\r\nContent-Type:application/json\r\n\r\n"]
    chunks.append(httpx.Request("POST", "http://x", json=statements).content)
    for data, headers in parts:
        chunks.append(b"\r\n" + delimiter + b"\r\n")
        chunks += [f"{k}:{v}\r\n".encode() for k, v in headers.items()]
        chunks += [b"\r\n", data]
    chunks.append(b"\r\n" + delimiter + b"--")
    return b"".join(chunks), {"Content-Type": f'multipart/mixed; boundary="{boundary}"'}


def part(
    data: bytes, content_type: str = "application/octet-stream"
) -> tuple[bytes, dict[str, str]]:
    """Return an attachment part with its hash header."""
    return data, {
        "Content-Type": content_type,
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": hashlib.sha256(data).hexdigest(),
    }

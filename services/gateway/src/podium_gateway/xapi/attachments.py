"""Statement attachments sent and served as multipart/mixed (xAPI Data 2.4.11, Comm. 1.5.2).

A request carrying attachment content is an RFC 2046 multipart/mixed document:
the first part holds the statement(s) as `application/json`, each further part
the raw octets of one attachment with `X-Experience-API-Hash` (its sha2) and
`Content-Transfer-Encoding: binary`. Parts are matched to attachment objects by
hash only (Comm. 1.5.2), checked against it, and kept in the blob store under
their sha2, so one content is stored once however many statements use it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from podium_runtime.blobs import BlobNotFoundError, BlobStore

HASH_HEADER = "x-experience-api-hash"
#: SHA-2 digests by the length of their hex form (Comm. 1.5.2: SHA-256, -384 or -512).
_DIGESTS = {64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


class AttachmentError(ValueError):
    """The multipart document or its parts break xAPI's attachment rules (answered 400)."""


@dataclass(frozen=True)
class Part:
    """One attachment part: its declared sha2, content type and raw octets."""

    sha2: str
    content_type: str
    data: bytes


def blob_key(sha2: str) -> str:
    """Return the blob key of an attachment's content."""
    return f"xapi/attachments/{sha2.lower()}"


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.replace(b"\r\n", b"\n").split(b"\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise AttachmentError(f"A part header line is malformed: {line[:80]!r}.")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return headers


def split_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Split an RFC 2046 multipart body into (headers, content) pairs, in order."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise AttachmentError("The multipart/mixed Content-Type has no boundary parameter.")
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    # The first delimiter may open the body; later ones follow a line break (RFC 2046 5.1.1).
    start = 0 if body.startswith(delimiter) else body.find(b"\n" + delimiter)
    if start < 0:
        raise AttachmentError("The multipart body does not contain its boundary.")
    position = start + (0 if start == 0 else 1) + len(delimiter)
    parts: list[tuple[dict[str, str], bytes]] = []
    while True:
        if body.startswith(b"--", position):
            return parts  # close delimiter
        line_end = body.find(b"\n", position)
        if line_end < 0:
            raise AttachmentError("The multipart body ends inside a delimiter line.")
        head_start = line_end + 1
        head_end = body.find(b"\r\n\r\n", head_start)
        separator = 4
        bare = body.find(b"\n\n", head_start)
        if head_end < 0 or (0 <= bare < head_end):
            head_end, separator = bare, 2
        if head_end < 0:
            raise AttachmentError("A part of the multipart body has no end of headers.")
        if body.startswith(b"\r\n", head_start) or body.startswith(b"\n", head_start):
            headers, content_start = {}, head_start + (2 if body[head_start] == 13 else 1)
        else:
            headers, content_start = _headers(body[head_start:head_end]), head_end + separator
        next_delimiter = body.find(b"\r\n" + delimiter, content_start)
        skip = 2
        if next_delimiter < 0:
            next_delimiter, skip = body.find(b"\n" + delimiter, content_start), 1
        if next_delimiter < 0:
            raise AttachmentError("The multipart body is not closed by its boundary.")
        parts.append((headers, body[content_start:next_delimiter]))
        position = next_delimiter + skip + len(delimiter)


def read_multipart(body: bytes, content_type: str) -> tuple[bytes, dict[str, Part]]:
    """Return the statements part and the attachment parts by sha2 (Comm. 1.5.2)."""
    parts = split_multipart(body, content_type)
    if not parts:
        raise AttachmentError("The multipart body has no part; the first must hold statements.")
    (first_headers, statements), rest = parts[0], parts[1:]
    first_type = first_headers.get("content-type", "").split(";")[0].strip().lower()
    if first_type != "application/json":
        raise AttachmentError("The first part must hold the statements as application/json.")
    found: dict[str, Part] = {}
    for number, (headers, data) in enumerate(rest, start=2):
        declared = headers.get(HASH_HEADER, "").strip().lower()
        if not declared:
            raise AttachmentError(f"Part {number} has no X-Experience-API-Hash header.")
        encoding = headers.get("content-transfer-encoding", "binary").strip().lower()
        if encoding != "binary":
            raise AttachmentError(
                f"Part {number} has Content-Transfer-Encoding {encoding!r}; it must be binary."
            )
        digest = _DIGESTS.get(len(declared))
        if digest is None or digest(data).hexdigest() != declared:
            raise AttachmentError(
                f"Part {number}'s content does not match its X-Experience-API-Hash {declared}."
            )
        found[declared] = Part(declared, headers.get("content-type", ""), data)
    return statements, found


def attachment_objects(statement: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Yield a statement's attachments, those of a SubStatement object included."""
    yield from statement.get("attachments") or []
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        yield from obj.get("attachments") or []


def match_parts(raws: list[dict[str, Any]], parts: dict[str, Part], batch: bool) -> None:
    """Check that every attachment has a fileUrl or a part, and every part an attachment."""
    wanted: set[str] = set()
    for index, raw in enumerate(raws):
        for number, attachment in enumerate(attachment_objects(raw)):
            sha2 = str(attachment.get("sha2", "")).lower()
            where = f"[{index}]." if batch else ""
            part = parts.get(sha2)
            if part is None:
                if "fileUrl" not in attachment:
                    raise AttachmentError(
                        f"{where}attachments[{number}] has no fileUrl and no part was sent "
                        f"with X-Experience-API-Hash {sha2}."
                    )
                continue
            # The part is identified by its sha2, which was checked on reading; `length`
            # is the sender's description and is stored as sent (the ADL conformance suite
            # sends a length that differs from the octets it attaches and expects a 200).
            wanted.add(sha2)
    unused = sorted(set(parts) - wanted)
    if unused:
        raise AttachmentError(
            f"Parts with X-Experience-API-Hash {', '.join(unused)} belong to no attachment."
        )


async def store_parts(store: BlobStore, parts: dict[str, Part]) -> None:
    """Keep each part under its sha2 (content-addressed: storing twice changes nothing)."""
    for sha2, part in parts.items():
        if not await store.exists(blob_key(sha2)):
            await store.put(blob_key(sha2), part.data)


async def load_parts(store: BlobStore, statements: Iterable[dict[str, Any]]) -> list[Part]:
    """Return the stored contents of the statements' attachments, each content once."""
    parts: dict[str, Part] = {}
    for statement in statements:
        for attachment in attachment_objects(statement):
            sha2 = str(attachment.get("sha2", "")).lower()
            if sha2 in parts:
                continue
            try:
                data = await store.get(blob_key(sha2))
            except BlobNotFoundError:
                continue  # referenced by fileUrl only
            parts[sha2] = Part(
                sha2, attachment.get("contentType", "application/octet-stream"), data
            )
    return list(parts.values())


def build_multipart(statements_json: bytes, parts: list[Part]) -> tuple[bytes, str]:
    """Return a multipart/mixed body (statements first, then the parts) and its Content-Type."""
    boundary = "xapi-" + secrets.token_hex(16)
    delimiter = b"--" + boundary.encode()
    chunks = [delimiter, b"\r\nContent-Type: application/json\r\n\r\n", statements_json]
    for part in parts:
        chunks += [
            b"\r\n",
            delimiter,
            b"\r\nContent-Type: " + part.content_type.encode("latin-1", "replace"),
            b"\r\nContent-Transfer-Encoding: binary",
            b"\r\nX-Experience-API-Hash: " + part.sha2.encode(),
            b"\r\n\r\n",
            part.data,
        ]
    chunks += [b"\r\n", delimiter, b"--\r\n"]
    return b"".join(chunks), f'multipart/mixed; boundary="{boundary}"'

"""Opaque page cursors: one codec and one error for every paginated route (SPEC §5).

A cursor is a base64url JSON array of the values a keyset page continues
after (or an offset). Anything a client sends that this codec did not make is
`400 INVALID_CURSOR`, whichever service answers: integers are bounded (an
offset or id past 2**53 overflowed Redis and Postgres), instants must carry
an offset and stay inside the years 1-9999 in UTC, and cursors are short.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from podium_runtime.problems import Problem

#: What a cursor may carry, and how each is read back.
CursorValue = int | str | datetime | uuid.UUID
#: Largest integer a cursor carries: exact in JSON clients, Lua and Postgres `bigint`.
MAX_CURSOR_INT = 2**53 - 1
#: Longest cursor accepted; the ones this codec makes are far shorter.
MAX_CURSOR_LENGTH = 512


class InvalidCursor(Problem):
    """The cursor is not one this API returned (400 `INVALID_CURSOR`)."""

    def __init__(self) -> None:
        super().__init__(400, "INVALID_CURSOR", "The cursor is not one this API returned.")


def _plain(value: CursorValue) -> int | str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _read(kind: type[Any], value: Any) -> CursorValue:
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(value)
        if not 0 <= value <= MAX_CURSOR_INT:
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    if kind is datetime:
        instant = datetime.fromisoformat(value)
        if instant.utcoffset() is None:
            raise ValueError(value)
        # Raises OverflowError for instants outside years 1-9999 once in UTC.
        return instant.astimezone(UTC)
    if kind is uuid.UUID:
        return uuid.UUID(value)
    return value


class CursorCodec:
    """Encodes and decodes the cursors of one kind of page, e.g. `CursorCodec(datetime, UUID)`."""

    def __init__(self, *kinds: type[Any]) -> None:
        self.kinds = kinds

    def encode(self, *values: CursorValue) -> str:
        """Return the opaque cursor continuing after `values`."""
        raw = json.dumps([_plain(v) for v in values], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, ...]:
        """Return the values of a cursor this codec made; raise `InvalidCursor` otherwise."""
        try:
            if len(cursor) > MAX_CURSOR_LENGTH:
                raise ValueError(cursor)
            values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if not isinstance(values, list) or len(values) != len(self.kinds):
                raise ValueError(cursor)
            return tuple(_read(k, v) for k, v in zip(self.kinds, values, strict=True))
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise InvalidCursor() from None

    def decode_optional(self, cursor: str | None) -> tuple[Any, ...] | None:
        """Like `decode`, with no cursor (None or empty) meaning the first page."""
        return self.decode(cursor) if cursor else None

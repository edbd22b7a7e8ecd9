"""Request/event context carried implicitly: correlation id, causation id, event type (SPEC §4)."""

from __future__ import annotations

import random
import uuid
from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)
event_type_var: ContextVar[str | None] = ContextVar("event_type", default=None)


#: The version (4) and variant (RFC 4122) bits of a random UUID.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """Return a fresh random UUID for a request, as text.

    A correlation id is not a secret: it is drawn from the process's fast
    generator rather than `uuid.uuid4()`'s system one, which costs a system
    call on every request.
    """
    digits = "%032x" % (random.getrandbits(128) & _CLEAR | _SET)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def current_correlation_id() -> str:
    """Return the correlation id in force, minting one when there is none."""
    value = correlation_id_var.get()
    if value is None:
        value = str(uuid.uuid4())
        correlation_id_var.set(value)
    return value


class bound:
    """Bind correlation/causation/event type for the duration of a request or message.

    A class rather than a generator context manager: it wraps every request.
    """

    __slots__ = ("_tokens", "_values")

    def __init__(
        self,
        correlation_id: str | None,
        causation_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self._values = (correlation_id or str(uuid.uuid4()), causation_id, event_type)

    def __enter__(self) -> None:
        correlation_id, causation_id, event_type = self._values
        self._tokens = (
            correlation_id_var.set(correlation_id),
            causation_id_var.set(causation_id),
            event_type_var.set(event_type),
        )

    def __exit__(self, *exc_info: object) -> None:
        correlation, causation, event_type = self._tokens
        correlation_id_var.reset(correlation)
        causation_id_var.reset(causation)
        event_type_var.reset(event_type)

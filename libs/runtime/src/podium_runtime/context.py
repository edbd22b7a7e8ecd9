"""Request/event context carried implicitly: correlation id, causation id, event type (SPEC §4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)
event_type_var: ContextVar[str | None] = ContextVar("event_type", default=None)


def current_correlation_id() -> str:
    """Return the correlation id in force, minting one when there is none."""
    value = correlation_id_var.get()
    if value is None:
        value = str(uuid.uuid4())
        correlation_id_var.set(value)
    return value


@contextmanager
def bound(
    correlation_id: str | None, causation_id: str | None = None, event_type: str | None = None
) -> Iterator[None]:
    """Bind correlation/causation/event type for the duration of a request or message."""
    tokens = (
        correlation_id_var.set(correlation_id or str(uuid.uuid4())),
        causation_id_var.set(causation_id),
        event_type_var.set(event_type),
    )
    try:
        yield
    finally:
        correlation_id_var.reset(tokens[0])
        causation_id_var.reset(tokens[1])
        event_type_var.reset(tokens[2])

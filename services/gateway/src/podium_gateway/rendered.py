"""Answers rendered once per content, not once per request (issue #14, ADR 0061).

A public board page and a public competition's details are the same bytes for
every reader until the data under them changes. The gateway reads that data
from Redis on every request (visibility must be decided each time, ADR 0041)
and keeps, per process, what it rendered from it, keyed by *the bytes it read*
and the request's parameters. A key never names a version that could be
reused: a change of a row, of the meta or of the card is a different key, so a
cached answer is exactly the answer the current data renders to, and a stale
one is simply never found again (it ages out of the bounded LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class Rendered(Generic[Value]):
    """A bounded least-recently-used map from what was read to what it renders to."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Value] = OrderedDict()

    def get(self, key: Hashable, render: Callable[[], Value]) -> Value:
        """Return the value kept for `key`, rendering and keeping it on a miss."""
        items = self._items
        try:
            value = items[key]
        except KeyError:
            value = items[key] = render()
            if len(items) > self.capacity:
                items.popitem(last=False)
            return value
        items.move_to_end(key)
        return value

    def __len__(self) -> int:
        """Return how many answers are kept."""
        return len(self._items)

    def clear(self) -> None:
        """Forget every answer (tests)."""
        self._items.clear()

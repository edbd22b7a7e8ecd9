"""Conflict lookups of concurrent xAPI requests merged into few calls to ingest (ADR 0004)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from podium_gateway.coalesce import Coalescer

Lookup = Callable[[Sequence[str]], Awaitable[dict[str, dict[str, Any]]]]


class CoalescedLookup:
    """Merges the conflict lookups of concurrent requests into few calls to ingest.

    Every POST with client-chosen ids asks the store whether those ids exist
    (docs/adr/0004). Up to `parallel` calls run at once, each sent as soon as it
    is asked for; callers arriving while all are busy wait for the next free one,
    which carries all their ids (`podium_gateway.coalesce`). So the store sees a
    few calls per round trip instead of one per request, and an idle gateway adds
    no delay.
    """

    def __init__(self, lookup: Lookup, max_ids: int = 1000, parallel: int = 1) -> None:
        self._lookup = lookup
        self._rounds: Coalescer[list[str], dict[str, dict[str, Any]]] = Coalescer(
            self._round, max_size=max_ids, parallel=parallel, size=len
        )

    async def lookup(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the stored statements among `ids` (voided or not)."""
        if not ids:
            return {}
        return await self._rounds.run(list(ids))

    async def _round(self, parts: list[list[str]]) -> list[dict[str, dict[str, Any]]]:
        found = await self._lookup(sorted({i for ids in parts for i in ids}))
        return [{i: found[i] for i in ids if i in found} for ids in parts]

    async def close(self) -> None:
        """Cancel the calls in flight (tests and shutdown)."""
        await self._rounds.close()

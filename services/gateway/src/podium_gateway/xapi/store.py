"""Conflict lookups of concurrent xAPI requests merged into few calls to ingest (ADR 0004)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Lookup = Callable[[Sequence[str]], Awaitable[dict[str, dict[str, Any]]]]


class CoalescedLookup:
    """Merges the conflict lookups of concurrent requests into few calls to ingest.

    Every POST with client-chosen ids asks the store whether those ids exist
    (docs/adr/0004). Up to `parallel` calls run at once, each sent as soon as it
    is asked for; callers arriving while all are busy wait for the next free one,
    which carries all their ids. So the store sees a few calls per round trip
    instead of one per request, and an idle gateway adds no delay.
    """

    def __init__(self, lookup: Lookup, max_ids: int = 1000, parallel: int = 1) -> None:
        self._lookup = lookup
        self.max_ids = max_ids
        self.parallel = parallel
        self._waiting: list[tuple[list[str], asyncio.Future[dict[str, dict[str, Any]]]]] = []
        self._rounds: set[asyncio.Task[None]] = set()

    async def lookup(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the stored statements among `ids` (voided or not)."""
        if not ids:
            return {}
        future: asyncio.Future[dict[str, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append((list(ids), future))
        self._start_rounds()
        # The shared call must not be cancelled with one of its callers.
        return await asyncio.shield(future)

    def _start_rounds(self) -> None:
        while self._waiting and len(self._rounds) < self.parallel:
            batch: list[tuple[list[str], asyncio.Future[dict[str, dict[str, Any]]]]] = []
            taken = 0
            while self._waiting and (not batch or taken + len(self._waiting[0][0]) <= self.max_ids):
                ids, future = self._waiting.pop(0)
                batch.append((ids, future))
                taken += len(ids)
            task = asyncio.create_task(self._round(batch))
            self._rounds.add(task)
            task.add_done_callback(self._round_done)

    def _round_done(self, task: asyncio.Task[None]) -> None:
        self._rounds.discard(task)
        self._start_rounds()

    async def _round(
        self, batch: list[tuple[list[str], asyncio.Future[dict[str, dict[str, Any]]]]]
    ) -> None:
        wanted = sorted({i for ids, _ in batch for i in ids})
        try:
            found = await self._lookup(wanted)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of this round sees the store's failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for ids, future in batch:
            if not future.done():
                future.set_result({i: found[i] for i in ids if i in found})

    async def close(self) -> None:
        """Cancel the calls in flight (tests and shutdown)."""
        for task in list(self._rounds):
            task.cancel()
        for task in list(self._rounds):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

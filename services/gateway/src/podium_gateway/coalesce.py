"""Calls of concurrent requests merged into few round trips (xAPI statement path).

A busy LRS client keeps many statement requests in flight, and each makes the
same kinds of calls: count the request against its rate limit, claim its ids,
perhaps ask ingest about ids. A round trip costs far more CPU (client library,
syscalls, Redis's script call) than the work it carries, so `Coalescer` sends
each caller's part at once when a round is free, and callers that arrive while
every round is busy go together in the next one. An idle gateway adds no delay;
a busy one makes a few calls per round trip instead of one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Part = TypeVar("Part")
Answer = TypeVar("Answer")

#: Runs one round: the parts of its callers in arrival order -> one answer per part.
Round = Callable[[list[Part]], Awaitable[list[Answer]]]


class Coalescer(Generic[Part, Answer]):
    """Merges the parts of concurrent callers into rounds of one call each.

    Up to `parallel` rounds run at once; a round carries the waiting parts in
    arrival order while their total `size` stays within `max_size` (a single part
    larger than that goes alone). The round's call must answer each part as if
    the parts had been sent one after another in that order. When it fails, every
    caller of the round sees the failure; a caller's cancellation never cancels
    the round its neighbours share.
    """

    def __init__(
        self,
        call: Round[Part, Answer],
        max_size: int = 1000,
        parallel: int = 1,
        size: Callable[[Part], int] = lambda _: 1,
    ) -> None:
        self._call = call
        self.max_size = max_size
        self.parallel = parallel
        self._size = size
        self._waiting: list[tuple[Part, asyncio.Future[Answer]]] = []
        self._rounds: set[asyncio.Task[None]] = set()

    async def run(self, part: Part) -> Answer:
        """Send `part` in the next free round and return its answer."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((part, future))
        self._start_rounds()
        # The shared call must not be cancelled with one of its callers.
        return await asyncio.shield(future)

    def _start_rounds(self) -> None:
        while self._waiting and len(self._rounds) < self.parallel:
            batch: list[tuple[Part, asyncio.Future[Answer]]] = []
            taken = 0
            while self._waiting and (
                not batch or taken + self._size(self._waiting[0][0]) <= self.max_size
            ):
                part, future = self._waiting.pop(0)
                batch.append((part, future))
                taken += self._size(part)
            task = asyncio.create_task(self._round(batch))
            self._rounds.add(task)
            task.add_done_callback(self._round_done)

    def _round_done(self, task: asyncio.Task[None]) -> None:
        self._rounds.discard(task)
        self._start_rounds()

    async def _round(self, batch: list[tuple[Part, asyncio.Future[Answer]]]) -> None:
        try:
            answers = await self._call([part for part, _ in batch])
            if len(answers) != len(batch):  # never leave a caller waiting for ever
                raise RuntimeError(f"{len(answers)} answers for {len(batch)} parts")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of this round sees the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    async def close(self) -> None:
        """Cancel the rounds in flight (tests and shutdown)."""
        for task in list(self._rounds):
            task.cancel()
        for task in list(self._rounds):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

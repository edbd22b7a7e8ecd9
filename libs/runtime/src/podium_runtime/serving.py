"""uvicorn, without its 100 ms housekeeping tick (docs/performance.md, "Idle is idle").

`uvicorn.Server.main_loop` sleeps 0.1 s between two calls of `on_tick`, which
renews the `Date` header once a second (every tenth call) and checks whether
the server should stop. An idle service therefore wakes ten times a second to
do nothing nine times out of ten. `QuietServer` ticks once a second, and a
stop signal wakes it at once, so shutdown is as prompt as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import FrameType
from typing import Any

import uvicorn

#: uvicorn's `on_tick` renews the Date header on every tenth count (once per 100 ms tick).
_COUNTS_PER_SECOND = 10
#: uvicorn wraps its tick counter here (one day of 100 ms ticks).
_COUNTER_WRAP = 864_000


class QuietServer(uvicorn.Server):
    """A `uvicorn.Server` whose main loop wakes once a second, or at once on a stop signal."""

    #: Seconds between two housekeeping ticks (uvicorn's own: 0.1).
    tick_seconds = 1.0

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        """Call `on_tick` once a second until it says to stop; a signal cuts the wait short."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # Every call is a "tenth" one for uvicorn: the Date header stays at most 1 s old.
            counter = (counter + _COUNTS_PER_SECOND) % _COUNTER_WRAP
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_seconds)
            self._wake.clear()
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Record the signal as uvicorn does, then wake the main loop to act on it now."""
        super().handle_exit(sig, frame)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)


def serve(app: Any, sockets: list[socket.socket] | None = None, **options: Any) -> None:
    """Run `app` like `uvicorn.run(app, **options)` (no reload, one worker), with `QuietServer`.

    With `sockets`, it accepts on those (already listening) instead of binding its own.
    """
    QuietServer(uvicorn.Config(app, **options)).run(sockets=sockets)

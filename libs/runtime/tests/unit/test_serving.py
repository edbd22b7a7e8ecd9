"""`QuietServer`: uvicorn's housekeeping once a second, a stop signal acted on at once."""

from __future__ import annotations

import asyncio
import signal

import uvicorn
from fastapi import FastAPI
from podium_runtime.serving import QuietServer


class CountingServer(QuietServer):
    """Records the counters `on_tick` is called with; stops when told, like uvicorn."""

    def __init__(self) -> None:
        super().__init__(uvicorn.Config(FastAPI()))
        self.counters: list[int] = []
        self.ticked = asyncio.Event()

    async def on_tick(self, counter: int) -> bool:
        self.counters.append(counter)
        self.ticked.set()
        return self.should_exit


async def test_every_tick_renews_the_date_header_and_a_signal_ends_the_wait() -> None:
    server = CountingServer()
    server.tick_seconds = 3600.0  # without the signal's wake-up the loop would sleep an hour
    task = asyncio.create_task(server.main_loop())
    await server.ticked.wait()
    server.handle_exit(signal.SIGTERM, None)
    server._captured_signals.clear()  # uvicorn re-raises them after serve(); not here
    await asyncio.wait_for(task, timeout=60)
    # uvicorn renews the Date header on every tenth count: every call here is one.
    assert server.counters == [0, 10]
    assert server.should_exit

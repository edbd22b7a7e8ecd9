"""The outbox relay's loop: a commit landing while the relay looks is never waited out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from podium_runtime.outbox import OutboxRelay


class ScriptedRelay(OutboxRelay):
    """A relay whose passes follow a script (the loop is under test, not the database)."""

    def __init__(self, script: list[Any], gather: float = 0.0) -> None:
        super().__init__(
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            batch_size=10,
            max_idle=3600,
            gather=gather,
        )
        self.script = script
        self.started: list[float] = []
        self.looked = asyncio.Event()

    async def relay_once(self) -> int:
        self.started.append(time.monotonic())
        self.looked.set()
        step = self.script[len(self.started) - 1]
        if step == "wake":  # a commit lands while this pass finds nothing yet
            self.wake()
            return 0
        if step == "stop":
            self.stop()
            return 0
        return int(step)


async def test_a_wake_up_during_an_empty_pass_is_kept() -> None:
    # Six idle passes grow the idle wait to 0.64 s; the seventh is woken while it looks.
    relay = ScriptedRelay([0, 0, 0, 0, 0, 0, "wake", "stop"])
    await asyncio.wait_for(relay.run(), timeout=30)
    assert len(relay.started) == 8
    assert relay.started[7] - relay.started[6] < 0.3  # not the 0.64 s idle wait


async def test_after_a_short_batch_the_relay_waits_for_a_wake_up() -> None:
    # A batch short of `batch_size` took every row committed before it looked: the next
    # look waits for a commit's wake-up (or `max_idle`), it does not poll an empty table.
    relay = ScriptedRelay([3, 0])
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(_passes(relay, 1), timeout=30)
        # Polling as before would have looked again after 10 ms; nothing to await here.
        await asyncio.sleep(0.2)
        assert len(relay.started) == 1
        relay.wake()
        await asyncio.wait_for(_passes(relay, 2), timeout=30)
    finally:
        relay.stop()
        relay.wake()
        await asyncio.wait_for(running, timeout=30)


async def test_a_woken_relay_gathers_the_commits_of_its_wait_into_one_pass() -> None:
    # ADR 0113: commits landing within `gather` of the first wake-up share one pass; a
    # full batch is followed at once (a backlog is not slowed down).
    relay = ScriptedRelay([3, 10, 2, 0], gather=0.3)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(_passes(relay, 1), timeout=30)
        woken = time.monotonic()
        for _ in range(3):  # three commits, a few milliseconds apart
            relay.wake()
            await asyncio.sleep(0.01)
        await asyncio.wait_for(_passes(relay, 3), timeout=30)
        assert relay.started[1] - woken >= 0.3  # waited for the gather
        assert relay.started[2] - relay.started[1] < 0.25  # after a full batch: at once
        await asyncio.sleep(0.1)  # an absence: nothing to await
        assert len(relay.started) == 3  # the three wake-ups: one pass (and its follow-up)
    finally:
        relay.stop()
        relay.wake()
        await asyncio.wait_for(running, timeout=30)


async def _passes(relay: ScriptedRelay, count: int) -> None:
    while len(relay.started) < count:
        relay.looked.clear()
        await relay.looked.wait()


def test_a_prefix_matches_its_topics_literally() -> None:
    # The relay picks its rows by LIKE: the prefix's own % and _ must not act as wildcards.
    from podium_runtime.outbox import _like_prefix

    assert _like_prefix("t1.") == "t1.%"
    assert _like_prefix("a_b%c/") == "a/_b/%c//%"

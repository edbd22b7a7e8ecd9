"""The outbox relay's loop: a commit landing while the relay looks is never waited out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from podium_runtime.outbox import OutboxRelay


class ScriptedRelay(OutboxRelay):
    """A relay whose passes follow a script (the loop is under test, not the database)."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__(None, None, None, batch_size=10, max_idle=3600)  # type: ignore[arg-type]
        self.script = script
        self.started: list[float] = []

    async def relay_once(self) -> int:
        self.started.append(time.monotonic())
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

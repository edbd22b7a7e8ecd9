"""Time-driven work of the rewards service: drawing transitions, claims, point expiry.

One replica at a time does a tick (a transaction-scoped Postgres advisory
lock, as the notifier's reminders). Every step is also safe on its own: each
drawing row is locked and its state checked before it moves, so a tick that
overlaps a manual execution changes nothing twice. The clock is injectable so
tests drive the whole lifecycle without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from podium_runtime.db import Database

from podium_rewards import repository as repo
from podium_rewards.service import Rewards

log = logging.getLogger(__name__)

LOCK_KEY = "podium.rewards.scheduler"


@dataclass
class TickResult:
    """What one tick did; `ran` is False when another replica held the lock."""

    ran: bool
    moved: dict[str, int] = field(default_factory=dict)
    reminded: int = 0
    forfeited: int = 0
    expired: int = 0


class Scheduler:
    """Opens, closes and executes drawings on time; reminds, forfeits and expires."""

    def __init__(
        self, database: Database, rewards: Rewards, *, interval_seconds: float = 15.0
    ) -> None:
        self.database = database
        self.rewards = rewards
        self.interval_seconds = interval_seconds

    async def tick(self) -> TickResult:
        """Run one pass at the rewards clock's now, if this replica wins the lock."""
        async with self.database.session() as session:
            if not await repo.try_scheduler_lock(session, LOCK_KEY):
                return TickResult(ran=False)
            now = self.rewards.clock()
            result = TickResult(ran=True)
            for status, column, target in (
                ("scheduled", "sales_open_at", "open"),
                ("open", "sales_close_at", "closed"),
                ("closed", "drawing_at", "completed"),
            ):
                for drawing_id in await repo.due_drawings(session, status, column, now):
                    if await self.rewards.move(session, None, drawing_id, target):
                        result.moved[target] = result.moved.get(target, 0) + 1
            result.reminded, result.forfeited = await self.rewards.remind_and_forfeit(session)
            result.expired = await self.rewards.expire_points(session)
        if result.moved or result.reminded or result.forfeited or result.expired:
            log.info(
                "rewards scheduler tick",
                extra={
                    "moved": result.moved,
                    "reminded": result.reminded,
                    "forfeited": result.forfeited,
                    "expired": result.expired,
                },
            )
        return result

    async def run(self) -> None:
        """Tick every interval until cancelled; a failed tick is logged and retried."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rewards scheduler tick failed")
            await asyncio.sleep(self.interval_seconds)

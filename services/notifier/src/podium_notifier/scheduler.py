"""Scheduled notifications: daily goal reminders and competition starting/ending soon (SPEC §7.4).

One replica at a time does a tick (a transaction-scoped Postgres advisory
lock). Each reminder is keyed per user, competition and local date, so a
restart, a second replica or a repeated tick never sends twice. The clock is
injectable so tests can freeze time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from podium_runtime.db import Database
from podium_runtime.timezones import zone
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier import domain
from podium_notifier.repositories import projections
from podium_notifier.service import Message, Notifier

log = logging.getLogger(__name__)

LOCK_KEY = "podium.notifier.scheduler"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class DueReminder:
    """A daily reminder one participant would get: where, on which local day, from when."""

    competition_id: uuid.UUID
    competition_title: str
    user_id: uuid.UUID
    timezone: str
    day: date
    due_at: datetime


@dataclass
class TickResult:
    """What one scheduler tick did; `ran` is False when another replica held the lock."""

    ran: bool
    reminders: int = 0
    soon: int = 0


class Scheduler:
    """Finds due reminders and notices and hands them to the notifier."""

    def __init__(
        self,
        database: Database,
        notifier: Notifier,
        *,
        clock: Clock = utc_now,
        interval_seconds: float = 30.0,
    ) -> None:
        self.database = database
        self.notifier = notifier
        self.settings = notifier.settings
        self.clock = clock
        self.interval_seconds = interval_seconds

    async def tick(self) -> TickResult:
        """Run one pass at `clock()` if this replica wins the lock."""
        now = self.clock()
        async with self.database.session() as session:
            if not await projections.try_scheduler_lock(session, LOCK_KEY):
                return TickResult(ran=False)
            soon = await self._soon_notices(session, now)
            reminders = await self._daily_reminders(session, now)
        if reminders or soon:
            log.info("scheduler sent", extra={"reminders": reminders, "soon": soon})
        return TickResult(ran=True, reminders=reminders, soon=soon)

    async def run(self) -> None:
        """Tick every interval until cancelled; a failed tick is logged and retried."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.interval_seconds)

    async def due_reminders(
        self, session: AsyncSession, now: datetime, *, whole_day: bool = False
    ) -> list[DueReminder]:
        """Return the participants without a qualifying statement on their local day.

        Normally only where `daily_reminder_hour` has passed locally (what a tick
        sends); with `whole_day`, everybody today's reminders would reach (the
        operator's preview, seed 001 §a.06).
        """
        running = {c.competition_id: c for c in await projections.goal_competitions(session, now)}
        if not running:
            return []
        # Group by (competition, timezone): one statement query per local day.
        groups: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = defaultdict(list)
        for p in await projections.active_participants(session, running):
            groups[(p.competition_id, p.timezone)].append(p.user_id)
        due: list[DueReminder] = []
        hour = self.settings.daily_reminder_hour
        for (competition_id, tz_name), user_ids in groups.items():
            competition = running[competition_id]
            tz = zone(tz_name)
            day = domain.local_day(now, tz) if whole_day else domain.reminder_due(now, tz, hour)
            if day is None:
                continue
            instant = domain.reminder_instant(day.day, hour, tz)
            if instant < competition.starts_at:
                continue  # the competition began after today's reminder time
            done = await projections.users_with_statement(
                session, user_ids, competition.daily_goal_verb, day.start, day.end
            )
            due += [
                DueReminder(competition_id, competition.title, user_id, tz_name, day.day, instant)
                for user_id in user_ids
                if user_id not in done
            ]
        return due

    async def _daily_reminders(self, session: AsyncSession, now: datetime) -> int:
        """Remind participants without a qualifying statement today, from 18:00 local."""
        sent = 0
        for due in await self.due_reminders(session, now):
            message = Message(
                domain.DAILY_REMINDER,
                "Your daily goal is still open",
                f"You have not completed today's goal in “{due.competition_title}” yet. "
                "There is still time before midnight.",
                self.notifier.link(f"/competitions/{due.competition_id}"),
                {"competition_id": str(due.competition_id), "local_date": due.day.isoformat()},
            )
            key = f"reminder.daily:{due.competition_id}:{due.day.isoformat()}"
            delivery = await self.notifier.notify(session, due.user_id, key, message)
            sent += bool(delivery.in_app is not None or delivery.email)
        return sent

    async def _soon_notices(self, session: AsyncSession, now: datetime) -> int:
        """Tell participants a competition starts or ends within the configured window."""
        window = timedelta(hours=self.settings.soon_window_hours)
        sent = 0
        for column, kind in (
            ("starts_at", domain.COMPETITION_STARTING),
            ("ends_at", domain.COMPETITION_ENDING),
        ):
            found = await projections.competitions_with_instant_between(
                session, column, now, now + window
            )
            if not found:
                continue
            by_id: dict[uuid.UUID, Any] = {c.competition_id: c for c in found}
            for p in await projections.active_participants(session, by_id):
                competition = by_id[p.competition_id]
                instant: datetime = getattr(competition, column)
                local = instant.astimezone(zone(p.timezone))
                verb = "starts" if column == "starts_at" else "ends"
                message = Message(
                    kind,
                    f"“{competition.title}” {verb} soon",
                    f"“{competition.title}” {verb} on {local:%A %d %B at %H:%M} ({p.timezone}).",
                    self.notifier.link(f"/competitions/{competition.competition_id}"),
                    {
                        "competition_id": str(competition.competition_id),
                        column: instant.isoformat(),
                    },
                )
                # Keyed by the instant: if the owner moves it, participants hear again.
                key = f"{kind}:{competition.competition_id}:{instant.isoformat()}"
                delivery = await self.notifier.notify(session, p.user_id, key, message)
                sent += bool(delivery.in_app is not None or delivery.email)
        return sent

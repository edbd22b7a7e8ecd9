"""Daily reminders at 18:00 local time, DST-safe, once per day across replicas (SPEC §7.4)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from notifier_harness import Running
from podium_contracts.events import (
    CompetitionCreated,
    CompetitionData,
    EnrollmentAccepted,
    EnrollmentData,
    LearningBatchData,
    LearningData,
    StatementRecorded,
    StatementsRecorded,
    UserData,
)
from podium_notifier.models import participants, statements
from podium_notifier.scheduler import Scheduler
from podium_runtime.db import Database
from podium_runtime.outbox import new_event
from podium_runtime.testing import eventually
from sqlalchemy import func, select

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


class FrozenClock:
    """A clock the test sets by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Cohort:
    """One activity competition with participants in several timezones."""

    def __init__(self, notifier: Running, competition_id: uuid.UUID, users: dict[str, UserData]):
        self.notifier = notifier
        self.competition_id = competition_id
        self.users = users

    async def reminders(self, who: str) -> dict[str, int]:
        """Count the daily reminders a participant got, per local date."""
        items = (await self.notifier.inbox(self.users[who].user_id, limit=100))["items"]
        counts: dict[str, int] = {}
        for item in items:
            if item["type"] == "reminder.daily":
                day = item["data"]["local_date"]
                counts[day] = counts.get(day, 0) + 1
        return counts


def fact(user: UserData, verb: str, timestamp: str, voided: bool = False) -> LearningData:
    return LearningData(
        actor=f"mailto:{user.email}",
        statement_id=uuid.uuid4(),
        user_id=user.user_id,
        verb=verb,
        timestamp=datetime.fromisoformat(timestamp),
        voided=voided,
    )


def batch(*facts: LearningData) -> Any:
    """One actor's facts in one event, as ingest announces them (ADR 0068)."""
    data = LearningBatchData(actor=facts[0].actor, facts=list(facts))
    return new_event(StatementsRecorded, "ingest", data)


def statement(user: UserData, verb: str, timestamp: str, voided: bool = False) -> Any:
    return batch(fact(user, verb, timestamp, voided))


@pytest.fixture(scope="module")
async def cohort(notifier: Running) -> Cohort:
    """Learned entirely from events: users, the competition, enrollments and statements."""
    zones = {
        "tokyo": "Asia/Tokyo",
        "tokyo_done": "Asia/Tokyo",
        "la": "America/Los_Angeles",
        "la_done": "America/Los_Angeles",
        "ny": "America/New_York",
        "ny_done": "America/New_York",
    }
    users = {name: await notifier.register(zone) for name, zone in zones.items()}
    competition_id = uuid.uuid4()
    await notifier.publish(
        new_event(
            CompetitionCreated,
            "competitions",
            CompetitionData(
                competition_id=competition_id,
                owner_id=uuid.uuid4(),
                kind="activity",
                title="Daily Python",
                visibility="public",
                status="active",
                starts_at=at("2026-03-01T00:00:00+00:00"),
                ends_at=at("2027-01-01T00:00:00+00:00"),
                timezone="UTC",
                rules={"points": [{"verb": COMPLETED, "points": 10}], "daily_goal_verb": COMPLETED},
            ),
        )
    )
    await notifier.publish(
        *[
            new_event(
                EnrollmentAccepted,
                "competitions",
                EnrollmentData(competition_id=competition_id, user_id=u.user_id),
            )
            for u in users.values()
        ]
    )
    done = [
        # 00:30 in Tokyo on 15 June is still 14 June in UTC: the local day decides.
        statement(users["tokyo_done"], COMPLETED, "2026-06-15T00:30:00+09:00"),
        # 17:00 in Los Angeles on 15 June is already 16 June in UTC.
        # (as the one-statement event ingest emitted before ADR 0068: still accepted)
        new_event(
            StatementRecorded,
            "ingest",
            fact(users["la_done"], COMPLETED, "2026-06-15T17:00:00-07:00"),
        ),
        # Another verb, or a voided statement, does not meet the goal.
        statement(users["la"], ATTEMPTED, "2026-06-15T10:00:00-07:00"),
        statement(users["tokyo"], COMPLETED, "2026-06-15T08:00:00+09:00", voided=True),
        # A statement and its voiding in one event (one row, voided), and a stranger's.
        batch(
            (stored := fact(users["tokyo"], COMPLETED, "2026-06-15T09:00:00+09:00")),
            stored.model_copy(update={"voided": True}),
            fact(users["tokyo"], COMPLETED, "2026-06-15T10:00:00+09:00").model_copy(
                update={"user_id": None}
            ),
        ),
        # 00:30 on the fall-back day is EDT (UTC-4): 04:30 UTC, inside the 25-hour local day.
        # Two facts of one learner in one event: each is kept.
        batch(
            fact(users["ny_done"], COMPLETED, "2026-11-01T00:30:00-04:00"),
            fact(users["ny_done"], COMPLETED, "2026-03-08T12:00:00-04:00"),
        ),
    ]
    await notifier.publish(*done)
    ids = [u.user_id for u in users.values()]
    facts = sum(
        len({f.statement_id for f in e.data.facts if f.user_id is not None})
        if isinstance(e, StatementsRecorded)
        else 1
        for e in done
    )

    async def projected() -> bool:
        async with notifier.service.runtime.db.session() as session:
            enrolled = await session.scalar(
                select(func.count())
                .select_from(participants)
                .where(participants.c.competition_id == competition_id)
            )
            recorded = await session.scalar(
                select(func.count()).select_from(statements).where(statements.c.user_id.in_(ids))
            )
        return enrolled == len(users) and recorded == facts

    await eventually(projected, timeout=20, message="projections up to date")
    return Cohort(notifier, competition_id, users)


def scheduler(notifier: Running, clock: Callable[[], datetime], database: Database | None = None):  # type: ignore[no-untyped-def]
    return Scheduler(
        database or notifier.service.runtime.db, notifier.service.notifier, clock=clock
    )


async def test_each_timezone_is_reminded_at_its_own_1800(cohort: Cohort) -> None:
    clock = FrozenClock(at("2026-06-15T08:59:00+00:00"))  # 17:59 in Tokyo
    tick = scheduler(cohort.notifier, clock).tick
    await tick()
    assert await cohort.reminders("tokyo") == {}

    clock.now = at("2026-06-15T09:00:00+00:00")  # 18:00 in Tokyo, 02:00 in Los Angeles
    await tick()
    clock.now = at("2026-06-15T09:30:00+00:00")  # a later tick of the same evening
    await tick()
    assert await cohort.reminders("tokyo") == {"2026-06-15": 1}
    assert await cohort.reminders("tokyo_done") == {}
    assert await cohort.reminders("la") == {}

    clock.now = at("2026-06-16T00:59:00+00:00")  # 17:59 in Los Angeles on 15 June
    await tick()
    assert await cohort.reminders("la") == {}
    clock.now = at("2026-06-16T01:00:00+00:00")  # 18:00 in Los Angeles
    await tick()
    await tick()
    assert await cohort.reminders("la") == {"2026-06-15": 1}
    assert await cohort.reminders("la_done") == {}
    # The reminder also went out by e-mail, once.
    address = cohort.users["la"].email
    # Two mails: the welcome to the competition, then the reminder (sent after commit).
    mails = await cohort.notifier.wait_mails(address, count=2)
    reminders = [m for m in mails if m["subject"] == "Your daily goal is still open"]
    assert len(reminders) == 1
    assert "Daily Python" in reminders[0]["text"]


async def test_spring_forward_day_in_new_york(cohort: Cohort) -> None:
    # 8 March 2026: clocks jump from 02:00 to 03:00; 18:00 EDT is 22:00 UTC (not 23:00).
    clock = FrozenClock(at("2026-03-08T21:59:00+00:00"))
    tick = scheduler(cohort.notifier, clock).tick
    await tick()
    assert "2026-03-08" not in await cohort.reminders("ny")
    clock.now = at("2026-03-08T22:00:00+00:00")
    await tick()
    assert (await cohort.reminders("ny"))["2026-03-08"] == 1
    assert "2026-03-08" not in await cohort.reminders("ny_done")


async def test_fall_back_day_in_new_york(cohort: Cohort) -> None:
    # 1 November 2026: 01:00-02:00 happens twice; 18:00 EST is 23:00 UTC (not 22:00).
    clock = FrozenClock(at("2026-11-01T22:00:00+00:00"))
    tick = scheduler(cohort.notifier, clock).tick
    await tick()
    assert "2026-11-01" not in await cohort.reminders("ny")
    clock.now = at("2026-11-01T23:00:00+00:00")
    await tick()
    clock.now = at("2026-11-02T04:59:00+00:00")  # 23:59 local, still 1 November
    await tick()
    assert (await cohort.reminders("ny"))["2026-11-01"] == 1
    # Completed at 00:30 EDT on the 25-hour day: no reminder.
    assert "2026-11-01" not in await cohort.reminders("ny_done")


async def test_two_replicas_and_a_restart_send_nothing_extra(
    cohort: Cohort, notifier: Running
) -> None:
    clock = FrozenClock(at("2026-07-01T09:05:00+00:00"))  # 18:05 in Tokyo
    other_db = Database(notifier.settings.database_url, pool_size=2)
    try:
        first, second = scheduler(notifier, clock), scheduler(notifier, clock, other_db)
        results = await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
        restarted = scheduler(notifier, clock, other_db)  # a fresh process after a crash
        await restarted.tick()
    finally:
        await other_db.dispose()
    # Both Tokyo participants are due (neither completed on 1 July), each exactly once.
    assert (await cohort.reminders("tokyo"))["2026-07-01"] == 1
    assert (await cohort.reminders("tokyo_done"))["2026-07-01"] == 1
    assert sum(r.reminders for r in results) == 2
    assert any(r.ran for r in results)


async def test_no_reminder_outside_the_competition(cohort: Cohort, notifier: Running) -> None:
    clock = FrozenClock(at("2027-01-01T09:30:00+00:00"))  # after ends_at
    await scheduler(notifier, clock).tick()
    assert "2027-01-01" not in await cohort.reminders("tokyo")

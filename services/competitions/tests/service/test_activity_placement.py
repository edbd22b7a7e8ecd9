"""Activity boards placed line by line (ADR 0094) equal the boards ranked from scratch.

A random stream of statements (several a day over three weeks, ties, a daily cap that
leaves some with no points, learners in two time zones) and voidings goes through the
use cases on real Postgres, the statements in batches of one learner's, as a tool posts
them (ADR 0095), now and then one sent again. After every step each statement must
hold the points worked out one statement at a time, the stored `all` board must equal
the board ranked from the ledger as `recompute_boards` ranks it, and the
`leaderboard.rank_changed` events must be exactly the moves between the two rankings,
one per line. The mirror's writes, applied in order to a real
Redis, must give every board (all, and each day, week and month touched) ranked from
the ledger, with its line count.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import competitions_factories as factories
import redis.asyncio as redis
from podium_competitions.activity import domain, repository, service
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.activity.models import activity_board, activity_boards, activity_points
from podium_competitions.boards import BoardDelta, apply_delta
from podium_competitions.domain import rank_changes
from podium_competitions.erasure.repository import ANONYMOUS
from podium_competitions.erasure.service import erase_user
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.models import competitions, enrollments, metadata, users
from podium_contracts.events import LearningData
from podium_contracts.redis_keys import activity_board_keys
from podium_runtime.outbox import Outbox, messaging_tables
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from test_incremental_boards import RecordingWriter

OUTBOX = messaging_tables(metadata).outbox
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
RULES = {
    "points": [
        {"verb": PASSED, "points": 25, "min_scaled_score": 0.8},
        {"verb": COMPLETED, "points": 10},
    ],
    "daily_cap": 40,
}
#: The learners' time zones, by turns: their local days (the cap's) are not the board's.
_ZONES = ("UTC", "Pacific/Auckland")
TOOL = uuid.UUID("00000000-0000-4000-8000-00000000700c")


async def _competition(session: AsyncSession, people: list[uuid.UUID]) -> uuid.UUID:
    """An activity competition of the last three weeks that counts any tool; `people` in."""
    now = datetime.now(UTC)
    made = await factories.competition(
        session,
        kind="activity",
        metric=None,
        rules=RULES,
        starts_at=now - timedelta(days=21),
        ends_at=now + timedelta(days=1),
    )
    await session.execute(
        update(competitions).where(competitions.c.id == made.id).values(any_lrs_client=True)
    )
    await session.execute(
        insert(users),
        [
            {"user_id": u, "display_name": f"Learner {i}", "timezone": _ZONES[i % 2]}
            for i, u in enumerate(people)
        ],
    )
    await session.execute(
        insert(enrollments),
        [{"competition_id": made.id, "user_id": u, "status": "accepted"} for u in people],
    )
    return made.id


async def _arena(
    session: AsyncSession, redis_client: redis.Redis, learners: int
) -> tuple[list[uuid.UUID], uuid.UUID, RecordingWriter, Outbox, ActivityBoardMirror]:
    """`learners` people in a new competition, and a mirror that records its writes."""
    people = [uuid.uuid4() for _ in range(learners)]
    competition_id = await _competition(session, people)
    writer = RecordingWriter(redis_client)
    return people, competition_id, writer, factories.outbox(), ActivityBoardMirror(writer)


def _morning(days_ago: int) -> datetime:
    """9:00 UTC on the day `days_ago` days before today."""
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def _statement(user_id: uuid.UUID, at: datetime, verb: str, scaled: float | None) -> LearningData:
    return LearningData(
        actor=f"account:https://podium.test|{user_id}",
        statement_id=uuid.uuid4(),
        user_id=user_id,
        verb=verb,
        activity_id="https://lessons.example/1",
        timestamp=at,
        scaled_score=scaled,
        voided=False,
        lrs_client_id=TOOL,
    )


async def _ranked(
    session: AsyncSession, competition_id: uuid.UUID, days: tuple[date, date] | None
) -> list[domain.BoardEntry]:
    """A board ranked from the ledger, as `recompute_boards` ranks it (the oracle)."""
    return domain.rank_points(await repository.standings(session, competition_id, days))


async def _stored(session: AsyncSession, competition_id: uuid.UUID) -> list[domain.BoardEntry]:
    t = activity_board.c
    rows = await session.execute(
        select(t.user_id, t.rank, t.score, t.statements, t.last_statement_at)
        .where(t.competition_id == competition_id)
        .order_by(t.rank)
    )
    return [domain.BoardEntry(*row) for row in rows]


async def _announced_since(session: AsyncSession, seq: int) -> tuple[Counter[tuple], int]:
    events, seq = await factories.announced_since(session, seq)
    assert all(data["period"] == "all" for data in events)  # the `all` board's only
    return Counter((uuid.UUID(d["user_id"]), d["old_rank"], d["new_rank"]) for d in events), seq


async def _ledger(session: AsyncSession, competition_id: uuid.UUID) -> dict[uuid.UUID, float]:
    """The points each statement holds in the ledger (voided ones left out)."""
    p = activity_points.c
    rows = await session.execute(
        select(p.statement_id, p.points).where(
            p.competition_id == competition_id, p.voided.is_(False)
        )
    )
    return {statement_id: points for statement_id, points in rows}


class _Points:
    """What each statement must earn under `RULES`, worked out one statement at a time
    (the oracle for statements awarded in batches): 25 for a pass of 0.8 or more, 10
    for a completion, never more than 40 on a learner's local day."""

    def __init__(self) -> None:
        self.expected: dict[uuid.UUID, float] = {}
        self.used: dict[tuple[uuid.UUID | None, date], float] = {}
        self.day: dict[uuid.UUID, tuple[uuid.UUID | None, date]] = {}

    def award(self, data: LearningData, zone: str) -> None:
        if data.verb == PASSED and (data.scaled_score or 0.0) < 0.8:
            return  # no rule matches: no row at all
        base = 25.0 if data.verb == PASSED else 10.0
        day = (data.user_id, data.timestamp.astimezone(ZoneInfo(zone)).date())
        earned = min(base, max(0.0, 40.0 - self.used.get(day, 0.0)))
        self.used[day] = self.used.get(day, 0.0) + earned
        self.expected[data.statement_id] = earned
        self.day[data.statement_id] = day

    def void(self, data: LearningData) -> None:
        earned = self.expected.pop(data.statement_id, None)
        if earned is not None:
            day = self.day[data.statement_id]
            self.used[day] -= earned


async def test_statements_and_voidings_place_lines_as_a_full_re_rank_does(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    rng = random.Random(94)
    people, competition_id, writer, outbox, mirror = await _arena(session, redis_client, 12)
    first_day = _morning(18)
    awarded: list[LearningData] = []
    touched: set[date] = set()
    points = _Points()
    seq = 0
    for step in range(150):
        before = {e.user_id: e.rank for e in await _ranked(session, competition_id, None)}
        if awarded and rng.random() < 0.15:
            gone = awarded.pop(rng.randrange(len(awarded)))
            voiding = gone.model_copy(update={"voided": True})
            await service.record_statements(session, outbox, mirror, [voiding])
            points.void(gone)
        else:
            # A batch of one learner's statements, as a tool posts them: whole minutes on
            # a few days a week apart (equal points reached at one instant tie, and the
            # daily cap leaves some with nothing), now and then one sent again.
            person = rng.choice(people)
            batch: list[LearningData] = []
            for _ in range(rng.randint(1, 4)):
                theirs = [d for d in awarded if d.user_id == person]
                if theirs and rng.random() < 0.1:
                    batch.append(rng.choice(theirs))  # a redelivery earns nothing more
                    continue
                at = first_day + timedelta(days=rng.choice((0, 1, 6, 7, 8, 15)), minutes=step // 3)
                passed = rng.random() < 0.3
                data = _statement(
                    person,
                    at,
                    PASSED if passed else COMPLETED,
                    round(rng.random(), 1) if passed else None,
                )
                batch.append(data)
                awarded.append(data)
                touched.add(at.date())
                points.award(data, _ZONES[people.index(person) % 2])
            await service.record_statements(session, outbox, mirror, batch)
        assert await _ledger(session, competition_id) == points.expected
        after = await _ranked(session, competition_id, None)
        assert await _stored(session, competition_id) == after
        announced, seq = await _announced_since(session, seq)
        assert announced == Counter(
            (c.user_id, c.old_rank, c.new_rank) for c in rank_changes(before, after)
        )

    deltas = [write for _, write, _ in writer.writes if isinstance(write, BoardDelta)]
    assert len(deltas) > 4 * len(writer.writes) // 5  # nearly all of them: lines placed
    assert any(d.removed for d in deltas) and any(d.base is None for d in deltas)
    await writer.replay()
    boards = {("all", None)} | {
        (period, start) for day in touched for period, start in domain.boards_of_day(day)
    }
    assert len(boards) > 6  # several days, weeks and months
    for period, start in boards:
        days = domain.period_days(period, start) if start is not None else None
        expected = await _ranked(session, competition_id, days)
        keys = activity_board_keys(competition_id, period, start)
        mirrored = await factories.mirrored_board(redis_client, keys)
        assert [
            (e.user_id, e.rank, e.score, e.submissions, e.last_submission_at) for e in mirrored
        ] == [(e.user_id, e.rank, e.score, e.statements, e.last_statement_at) for e in expected]
        assert all(e.display_name and e.display_name.startswith("Learner") for e in mirrored)
        assert int(await redis_client.hget(keys[2], "total") or -1) == len(expected)


async def test_the_first_audit_finds_activity_boards_by_their_versions(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    people, competition_id, writer, outbox, mirror = await _arena(session, redis_client, 3)
    at = _morning(2)
    for i, person in enumerate(people):
        statement = _statement(person, at + timedelta(minutes=i), COMPLETED, None)
        await service.record_statements(session, outbox, mirror, [statement])
    # Every write lands but the last: a delta of the month board lost after its commit.
    *landed, (last_keys, last, _) = writer.writes
    assert isinstance(last, BoardDelta) and ":month:" in last_keys[0]
    await writer.replay(landed)
    wanted = (competition_id, [at.date()])
    # Later rounds compare the `all` board's count, which is in line.
    assert wanted not in await service.boards_to_repair(session, mirror)
    assert wanted in await service.boards_to_repair(session, mirror, versions=True)
    assert await apply_delta(redis_client, last_keys, last) == "applied"
    assert wanted not in await service.boards_to_repair(session, mirror, versions=True)
    # Boards stored before versions existed are rebuilt once.
    await session.execute(
        delete(activity_boards).where(activity_boards.c.competition_id == competition_id)
    )
    assert wanted in await service.boards_to_repair(session, mirror, versions=True)


async def test_an_erasure_writes_the_lines_again_under_the_anonymous_name(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    people, competition_id, writer, outbox, mirror = await _arena(session, redis_client, 5)
    days = [_morning(9), _morning(1)]
    for i, person in enumerate(people * 2):
        at = days[i % 2] + timedelta(minutes=i)
        await service.record_statements(
            session, outbox, mirror, [_statement(person, at, COMPLETED, None)]
        )
    before = await _stored(session, competition_id)
    _, seq = await factories.announced_since(session, 0)
    erased = people[1]
    await erase_user(session, erased, LeaderboardMirror(writer), mirror)
    # Nobody moved and nobody is told; every board shows the line under the new name.
    assert await _stored(session, competition_id) == before
    assert (await factories.announced_since(session, seq))[0] == []
    await writer.replay()
    boards = {("all", None)} | {
        (period, start) for day in days for period, start in domain.boards_of_day(day.date())
    }
    for period, start in boards:
        span = domain.period_days(period, start) if start is not None else None
        expected = await _ranked(session, competition_id, span)
        mirrored = await factories.mirrored_board(
            redis_client, activity_board_keys(competition_id, period, start)
        )
        assert [(e.user_id, e.rank, e.score) for e in mirrored] == [
            (e.user_id, e.rank, e.score) for e in expected
        ]
        names = {e.user_id: e.display_name for e in mirrored}
        assert names[erased] == ANONYMOUS  # on every board: statements on both days
        assert all(name != ANONYMOUS for user, name in names.items() if user != erased)
    assert isinstance(writer.writes[-1][1], BoardDelta)  # placed, not ranked whole

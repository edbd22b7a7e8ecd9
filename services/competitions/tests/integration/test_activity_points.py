"""Activity points on real infrastructure: ledger, daily cap, voiding, boards, rank changes.

Statements arrive as `learning.statements_recorded` events, published here the
way ingest publishes them (SPEC §7.3, ADR 0068); the older one-statement
`learning.statement_recorded` is still accepted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from competitions_harness import Harness
from podium_contracts.events import (
    LearningBatchData,
    LearningData,
    StatementRecorded,
    StatementsRecorded,
    UserData,
    UserRegistered,
)
from podium_contracts.redis_keys import Period, activity_board_keys, member_user_id, period_start
from podium_contracts.topics import LEADERBOARDS
from podium_runtime.outbox import new_event
from podium_runtime.testing import TestInfrastructure, eventually, recording

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
LESSON = "https://lessons.example/course-1/lesson-"
RULES = {
    "points": [
        {"verb": PASSED, "points": 25, "min_scaled_score": 0.8},
        {"verb": COMPLETED, "activity_prefix": "https://lessons.example/", "points": 10},
    ],
    "daily_cap": 100,
}
#: The learning tool the tests' competitions trust (ADR 0054).
TOOL = uuid.UUID("00000000-0000-4000-8000-00000000700c")


@pytest.fixture(scope="module")
async def rank_events(test_infra: TestInfrastructure) -> AsyncIterator[list[dict[str, Any]]]:
    """Every `leaderboard.rank_changed` published while this module runs."""
    seen: list[dict[str, Any]] = []
    async with recording(
        test_infra.infra.kafka_bootstrap_servers,
        [test_infra.topic_prefix + LEADERBOARDS.name],
        lambda record: seen.append(json.loads(record.value)),
    ):
        yield seen


async def _user(harness: Harness, timezone: str = "UTC") -> tuple[uuid.UUID, str]:
    """Announce a user as identity does; return the id and e-mail."""
    user_id = uuid.uuid4()
    email = f"{user_id.hex[:10]}@Example.org"
    await harness.producer.publisher.publish(
        new_event(
            UserRegistered,
            "identity",
            UserData(
                user_id=user_id,
                email=email,
                display_name=f"Learner {user_id.hex[:4]}",
                timezone=timezone,
            ),
        )
    )
    return user_id, email


async def _competition(harness: Harness, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "kind": "activity",
        "metric": None,
        "rules": RULES,
        "late_join": True,
        "starts_at": (now - timedelta(days=20)).isoformat(),
        "ends_at": (now + timedelta(days=20)).isoformat(),
    }
    body.update(fields)
    owner = uuid.uuid4()
    made = await harness.create(owner, **body)
    # Statements count only from LRS clients the sponsor trusts (ADR 0054).
    trusted = await harness.http.put(
        f"/internal/v1/competitions/{made['id']}/trusted-lrs-clients",
        json={"lrs_client_ids": [str(TOOL)]},
        headers=harness.as_user(owner),
    )
    assert trusted.status_code == 200, trusted.text
    return made


async def _participants(harness: Harness, competition: dict[str, Any], *users: uuid.UUID) -> None:
    for user_id in users:
        decided = await harness.join(competition["id"], user_id)
        assert decided["status"] == "accepted", decided


def _fact(
    at: datetime,
    *,
    user_id: uuid.UUID | None = None,
    actor: str | None = None,
    verb: str = COMPLETED,
    activity: str = LESSON + "1",
    scaled: float | None = None,
    statement_id: uuid.UUID | None = None,
    voided: bool = False,
    lrs_client_id: uuid.UUID | None = None,
) -> LearningData:
    """One flattened statement as ingest announces it."""
    return LearningData(
        actor=actor or f"account:https://podium.test|{user_id}",
        statement_id=statement_id or uuid.uuid4(),
        user_id=user_id,
        verb=verb,
        activity_id=activity,
        timestamp=at,
        scaled_score=scaled,
        voided=voided,
        lrs_client_id=lrs_client_id or TOOL,
    )


async def _publish(harness: Harness, *facts: LearningData) -> None:
    """Publish facts in one `learning.statements_recorded` event, as ingest does (ADR 0068)."""
    data = LearningBatchData(actor=facts[0].actor, facts=list(facts))
    await harness.producer.publisher.publish(new_event(StatementsRecorded, "ingest", data))


async def _statement(harness: Harness, at: datetime, **fields: Any) -> uuid.UUID:
    """Publish one flattened statement as ingest does; return its id."""
    fact = _fact(at, **fields)
    await _publish(harness, fact)
    return fact.statement_id


async def _board(
    harness: Harness, competition_id: str, period: Period = "all", day: date | None = None
) -> dict[str, float]:
    """Read a board from Redis as the gateway does: user id -> points, in rank order."""
    ranks, entries, _ = activity_board_keys(
        uuid.UUID(competition_id), period, period_start(period, day) if day else None
    )
    async with harness.producer.redis.pipeline(transaction=True) as pipe:
        pipe.zrange(ranks, 0, -1, withscores=True)
        pipe.hgetall(entries)
        members, rows = await pipe.execute()
    # A line's rank is its position; it is scored by its points negated, and its member
    # ends with its user id (ADR 0091, ADR 0094).
    parsed = [json.loads(rows[member]) for member, _ in members]
    assert [e["user_id"] for e in parsed] == [member_user_id(m) for m, _ in members]
    assert [-e["score"] for e in parsed] == [score for _, score in members]
    return {e["user_id"]: e["score"] for e in parsed}


async def _board_is(
    harness: Harness,
    competition_id: str,
    expected: dict[uuid.UUID, float],
    period: Period = "all",
    day: date | None = None,
) -> None:
    want = {str(k): v for k, v in expected.items()}

    async def matches() -> bool:
        return await _board(harness, competition_id, period, day) == want

    await eventually(matches, timeout=20, message=f"{period} board {want}")
    # Same order as well as the same points.
    assert list(await _board(harness, competition_id, period, day)) == list(want)


async def test_points_follow_the_rules_once_per_statement(harness: Harness) -> None:
    competition = await _competition(harness)
    (ada, ada_email), (grace, _) = await _user(harness), await _user(harness)
    stranger, _ = await _user(harness)
    await _participants(harness, competition, ada, grace)
    # Noon yesterday (UTC): every statement below falls on one day whatever the clock says.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    now = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)
    first = await _statement(harness, now, user_id=ada)
    # The same statement again (a second fact for one id) earns nothing more.
    await _statement(harness, now, user_id=ada, statement_id=first)
    # An mbox actor is the user with that e-mail (ingest lower-cases the key).
    await _statement(harness, now, actor=f"mbox:mailto:{ada_email.lower()}")
    await _statement(harness, now, user_id=grace, verb=PASSED, scaled=0.9)
    # None of these count: score too low, other activity, outside the window, not enrolled.
    await _statement(harness, now, user_id=grace, verb=PASSED, scaled=0.5)
    await _statement(harness, now, user_id=grace, activity="https://elsewhere.example/x")
    await _statement(harness, now - timedelta(days=30), user_id=grace)
    await _statement(harness, now, user_id=stranger)
    # A later statement of Grace's shows every earlier one was handled.
    await _statement(harness, now + timedelta(minutes=1), user_id=grace)
    await _board_is(harness, competition["id"], {grace: 35, ada: 20})
    today = now.date()
    await _board_is(harness, competition["id"], {grace: 35, ada: 20}, "day", today)
    await _board_is(harness, competition["id"], {grace: 35, ada: 20}, "week", today)
    await _board_is(harness, competition["id"], {grace: 35, ada: 20}, "month", today)
    await _board_is(harness, competition["id"], {}, "day", today - timedelta(days=1))


async def test_equal_points_rank_who_got_there_first_and_rank_changes_are_announced(
    harness: Harness, rank_events: list[dict[str, Any]]
) -> None:
    competition = await _competition(harness)
    (ada, _), (grace, _) = await _user(harness), await _user(harness)
    await _participants(harness, competition, ada, grace)
    t = datetime.now(UTC) - timedelta(hours=1)
    await _statement(harness, t + timedelta(minutes=2), user_id=ada)
    await _statement(harness, t + timedelta(minutes=1), user_id=grace)
    # Same points: Grace's statement is the earlier one.
    await _board_is(harness, competition["id"], {grace: 10, ada: 10})
    await _statement(harness, t + timedelta(minutes=3), user_id=ada)
    await _board_is(harness, competition["id"], {ada: 20, grace: 10})

    def moves() -> set[tuple[str, Any, Any]]:
        return {
            (e["data"]["user_id"], e["data"]["old_rank"], e["data"]["new_rank"])
            for e in rank_events
            if e["type"] == "leaderboard.rank_changed"
            and e["data"]["competition_id"] == competition["id"]
        }

    # The first two may be handled in either order (different actors, different partitions);
    # the overtaking is announced either way.
    expected = {(str(grace), None, 1), (str(ada), 2, 1), (str(grace), 1, 2)}

    async def announced() -> bool:
        return expected <= moves()

    await eventually(announced, timeout=20, message="rank changes announced")
    assert all(e["data"]["period"] == "all" for e in rank_events)


async def test_daily_cap_holds_per_local_day_and_voiding_frees_room(harness: Harness) -> None:
    competition = await _competition(harness, rules={**RULES, "daily_cap": 25})
    tokyo, _ = await _user(harness, "Asia/Tokyo")
    await _participants(harness, competition, tokyo)
    # 23:50-23:58 in Tokyo on one day, 00:01 and 00:05 the next; all one UTC day.
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    midnight = datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)
    late = [midnight - timedelta(minutes=m) for m in (10, 8, 6)]
    first = await _statement(harness, late[0], user_id=tokyo)
    for at in late[1:]:
        await _statement(harness, at, user_id=tokyo)  # 10, then 5 of 10 (cap 25)
    for at in (midnight + timedelta(minutes=1), midnight + timedelta(minutes=5)):
        await _statement(harness, at, user_id=tokyo)  # a new Tokyo day: 10 and 10
    await _board_is(harness, competition["id"], {tokyo: 45})
    # The competition's boards use its own zone (UTC): everything fell on one UTC day.
    await _board_is(harness, competition["id"], {tokyo: 45}, "day", day)
    # Voiding the first takes its 10 back; the capped 5 is not re-evaluated.
    await _statement(harness, late[0], user_id=tokyo, statement_id=first, voided=True)
    await _board_is(harness, competition["id"], {tokyo: 35})
    # The freed room goes to a statement recorded afterwards on that Tokyo day.
    await _statement(harness, midnight - timedelta(minutes=2), user_id=tokyo)
    await _board_is(harness, competition["id"], {tokyo: 45})
    await _statement(harness, midnight - timedelta(minutes=1), user_id=tokyo)  # cap reached
    await _statement(harness, midnight + timedelta(minutes=9), user_id=tokyo)  # 5 left
    await _board_is(harness, competition["id"], {tokyo: 50})


async def test_facts_of_one_event_are_awarded_in_order_and_exactly(harness: Harness) -> None:
    """ADR 0068: a batch event is handled fact by fact: cap, duplicates and voiding hold."""
    competition = await _competition(harness, rules={**RULES, "daily_cap": 25})
    ada, _ = await _user(harness)
    await _participants(harness, competition, ada)
    day = (datetime.now(UTC) - timedelta(days=2)).date()
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    first = _fact(noon, user_id=ada)
    facts = [
        first,
        _fact(noon + timedelta(minutes=1), user_id=ada, statement_id=first.statement_id),
        _fact(noon + timedelta(minutes=2), user_id=ada),  # 10
        _fact(noon + timedelta(minutes=3), user_id=ada),  # 5 of 10: the cap is 25
        _fact(noon + timedelta(minutes=4), user_id=ada),  # nothing left
    ]
    await _publish(harness, *facts)
    await _board_is(harness, competition["id"], {ada: 25})
    # A voiding in a later batch takes the first statement's 10 back; the freed room
    # goes to the next statement (once, though it comes twice in its batch).
    await _publish(harness, _fact(noon, user_id=ada, statement_id=first.statement_id, voided=True))
    await _board_is(harness, competition["id"], {ada: 15})
    last = _fact(noon + timedelta(minutes=5), user_id=ada)
    await _publish(harness, last, last, _fact(noon + timedelta(minutes=6), user_id=ada))
    await _board_is(harness, competition["id"], {ada: 25})


async def test_the_one_statement_event_is_still_accepted(harness: Harness) -> None:
    """Events of the form before ADR 0068 may be in flight: they award as they did."""
    competition = await _competition(harness)
    ada, _ = await _user(harness)
    await _participants(harness, competition, ada)
    at = datetime.now(UTC) - timedelta(hours=1)
    fact = _fact(at, user_id=ada)
    await harness.producer.publisher.publish(new_event(StatementRecorded, "ingest", fact))
    await _board_is(harness, competition["id"], {ada: 10})
    voided = _fact(at, user_id=ada, statement_id=fact.statement_id, voided=True)
    await harness.producer.publisher.publish(new_event(StatementRecorded, "ingest", voided))
    await _board_is(harness, competition["id"], {})


async def test_boards_bucket_by_the_competitions_zone(harness: Harness) -> None:
    competition = await _competition(harness, timezone="America/Los_Angeles")
    ada, _ = await _user(harness, "Europe/Paris")
    await _participants(harness, competition, ada)
    # A Monday 06:00 UTC is still Sunday night in Los Angeles: last week's board.
    monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday() + 7)
    at = datetime(monday.year, monday.month, monday.day, 6, 0, tzinfo=UTC)
    await _statement(harness, at, user_id=ada)
    sunday = monday - timedelta(days=1)
    await _board_is(harness, competition["id"], {ada: 10}, "day", sunday)
    await _board_is(harness, competition["id"], {ada: 10}, "week", sunday)
    await _board_is(harness, competition["id"], {}, "week", monday)


async def test_rebuild_restores_the_mirror_from_the_ledger(harness: Harness) -> None:
    competition = await _competition(harness)
    ada, _ = await _user(harness)
    await _participants(harness, competition, ada)
    at = datetime.now(UTC) - timedelta(days=2)
    await _statement(harness, at, user_id=ada)
    await _board_is(harness, competition["id"], {ada: 10}, "day", at.date())
    cid = uuid.UUID(competition["id"])
    for period, start in (("all", None), ("day", at.date())):
        await harness.producer.redis.delete(*activity_board_keys(cid, period, start))  # type: ignore[arg-type]
    assert await _board(harness, competition["id"]) == {}
    rebuilt = await harness.http.post("/internal/v1/activity-boards/rebuild")
    assert rebuilt.status_code == 200 and rebuilt.json()["days"] >= 1
    assert await _board(harness, competition["id"]) == {str(ada): 10}
    assert await _board(harness, competition["id"], "day", at.date()) == {str(ada): 10}


async def test_only_statements_of_trusted_lrs_clients_give_or_take_points(harness: Harness) -> None:
    competition = await _competition(harness)
    ada, _ = await _user(harness)
    await _participants(harness, competition, ada)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    now = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)
    intruder = uuid.uuid4()
    # An untrusted tool's statement earns nothing (it would be 25, a total no trusted
    # statement below passes through); the trusted tool's do.
    await _statement(harness, now, user_id=ada, verb=PASSED, scaled=0.9, lrs_client_id=intruder)
    kept = await _statement(harness, now, user_id=ada)
    # The untrusted tool cannot take the trusted statement's points back either.
    await _statement(
        harness, now, user_id=ada, statement_id=kept, voided=True, lrs_client_id=intruder
    )
    await _statement(harness, now + timedelta(minutes=1), user_id=ada, activity=LESSON + "2")
    await _board_is(harness, competition["id"], {ada: 20})
    # The sponsor trusts the other tool too: its statements count from then on.
    owner = uuid.UUID(competition["owner_id"])
    added = await harness.http.post(
        f"/internal/v1/competitions/{competition['id']}/trusted-lrs-clients/{intruder}",
        headers=harness.as_user(owner),
    )
    assert added.status_code == 200, added.text
    assert set(added.json()["lrs_client_ids"]) == {str(TOOL), str(intruder)}
    assert added.json()["any_lrs_client"] is False
    await _statement(harness, now, user_id=ada, activity=LESSON + "3", lrs_client_id=intruder)
    await _board_is(harness, competition["id"], {ada: 30})


async def test_only_the_owner_or_an_admin_manages_trust(harness: Harness) -> None:
    competition = await _competition(harness)
    path = f"/internal/v1/competitions/{competition['id']}/trusted-lrs-clients"
    body = {"lrs_client_ids": [str(uuid.uuid4())]}
    stranger = harness.as_user(uuid.uuid4())
    assert (await harness.http.get(path, headers=stranger)).status_code == 403
    assert (await harness.http.put(path, json=body, headers=stranger)).status_code == 403
    admin = harness.as_user(uuid.uuid4(), "admin")
    changed = await harness.http.put(path, json=body, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**body, "any_lrs_client": False}
    prediction = await harness.create(uuid.uuid4())
    refused = await harness.http.get(
        f"/internal/v1/competitions/{prediction['id']}/trusted-lrs-clients", headers=admin
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "NOT_AN_ACTIVITY_COMPETITION"

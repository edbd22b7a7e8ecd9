"""Activity competitions end to end: xAPI statements in, points and boards out (SPEC §7.3).

A learning tool posts statements to the gateway's LRS; ingest flattens them;
competitions awards points; the gateway serves the boards from Redis.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_support.activity import (
    COMPLETED,
    create_activity_competition,
    join_accepted,
    learning_tool,
    post_statements,
)
from platform_support.stack import (
    PLATFORM,
    User,
    run_id,
    serve_competitions,
    serve_gateway,
    serve_identity,
    serve_ingest,
    sign_up,
)
from podium_runtime.testing import TestInfrastructure, eventually

PASSED = "http://adlnet.gov/expapi/verbs/passed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
LESSONS = "https://lessons.example/course-1/"
RULES = {
    "points": [
        {"verb": PASSED, "points": 25, "min_scaled_score": 0.8},
        {"verb": COMPLETED, "activity_prefix": LESSONS, "points": 10},
    ],
    "daily_cap": 1000,
}


@dataclass
class ActivityStack:
    """The gateway, a signed-in admin's LRS credentials, and helpers."""

    http: httpx.AsyncClient
    lrs_auth: dict[str, str]
    #: The LRS client behind `lrs_auth`, which the stack's competitions trust (ADR 0054).
    lrs_client_id: str

    async def sign_up(self, timezone: str = "UTC") -> User:
        """Register and log in a user living in `timezone`."""
        return await sign_up(self.http, f"Learner {uuid.uuid4().hex[:4]}", timezone)

    async def competition(self, owner: User, **fields: Any) -> dict[str, Any]:
        """Create an active activity competition that started ten days ago."""
        return await create_activity_competition(
            self.http,
            owner,
            self.lrs_client_id,
            title="Learning sprint",
            **({"rules": RULES} | fields),
        )

    async def join(self, competition: dict[str, Any], *users: User) -> None:
        """Join each user and await acceptance and their profile in the roster."""
        cid = competition["id"]
        for user in users:
            await join_accepted(self.http, cid, user)

        # Time zones and e-mails come with identity's user events: await them in the roster.
        async def profiles_known() -> bool:
            got = await self.http.get(f"/v1/competitions/{cid}/participants", headers=users[0].auth)
            names = {p["display_name"] for p in got.json()["items"]}
            return {u.display_name for u in users} <= names

        await eventually(profiles_known, timeout=30, message="participants' profiles")

    async def post_statements(self, *statements: dict[str, Any]) -> list[str]:
        """POST statements as the learning tool; return their ids."""
        return await post_statements(self.http, self.lrs_auth, *statements)

    async def board(
        self, competition_id: str, period: str = "all", day: date | None = None
    ) -> dict[str, Any]:
        """GET a board anonymously."""
        params: dict[str, Any] = {"period": period}
        if day is not None:
            params["date"] = day.isoformat()
        got = await self.http.get(f"/v1/competitions/{competition_id}/leaderboard", params=params)
        assert got.status_code == 200, got.text
        return got.json()  # type: ignore[no-any-return]

    async def board_is(
        self,
        competition_id: str,
        expected: list[tuple[User, float]],
        period: str = "all",
        day: date | None = None,
    ) -> dict[str, Any]:
        """Await a board listing exactly these users with these points, in this order."""
        want = [(u.user_id, points) for u, points in expected]

        async def reached() -> dict[str, Any] | None:
            body = await self.board(competition_id, period, day)
            got = [(e["user_id"], e["score"]) for e in body["entries"]]
            return body if got == want else None

        return await eventually(reached, timeout=30, message=f"{period} board {want}")


def recent() -> datetime:
    """A minute or so ago, but never across UTC midnight from now (day boards stay put)."""
    now = datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return max(now - timedelta(minutes=2), midnight + timedelta(minutes=2))


def account(user: User) -> dict[str, Any]:
    """The xAPI actor of a Podium user: an account on the platform (SPEC §7.3)."""
    return {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": user.user_id}}


def statement(
    actor: dict[str, Any],
    at: datetime,
    verb: str = COMPLETED,
    activity: str = LESSONS + "lesson-1",
    **extra: Any,
) -> dict[str, Any]:
    """A statement as a learning tool sends it."""
    return {
        "actor": actor,
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": at.isoformat(),
        **extra,
    }


@contextlib.asynccontextmanager
async def activity_stack(test_infra: TestInfrastructure, tmp: Path) -> AsyncIterator[ActivityStack]:
    """Run identity, competitions, ingest and the gateway; warm every consumer group."""
    await test_infra.migrate("identity", "competitions", "ingest")
    run = run_id()
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run)
        competitions = await serve_competitions(stack, test_infra, db_pool_size=10)
        ingest = await serve_ingest(stack, test_infra, platform_url=PLATFORM)
        _, http = await serve_gateway(
            stack,
            test_infra,
            run,
            identity_url=identity,
            competitions_url=competitions,
            ingest_url=ingest,
            public_base_url=PLATFORM,
            rate_limit_lrs_client=1_000_000,
        )
        _, tool = await learning_tool(
            http, "lesson player", ["statements/write", "statements/read"]
        )
        running = ActivityStack(http, tool.auth, tool.client_id)
        # Consumer groups join once (about 5 s each on tansu): one awarded statement warms all.
        owner, learner = await running.sign_up(), await running.sign_up()
        warm = await running.competition(owner)
        await running.join(warm, learner)
        await running.post_statements(statement(account(learner), datetime.now(UTC)))
        await running.board_is(warm["id"], [(learner, 10)])
        yield running


@pytest.fixture(scope="module")
async def lms(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ActivityStack]:
    async with activity_stack(test_infra, tmp_path_factory.mktemp("activity")) as stack:
        yield stack


async def test_completed_statements_build_day_and_all_boards(lms: ActivityStack) -> None:
    owner = await lms.sign_up()
    ada, grace = await lms.sign_up("Asia/Tokyo"), await lms.sign_up("Europe/Paris")
    competition = await lms.competition(owner)
    cid = competition["id"]
    await lms.join(competition, ada, grace)
    now = recent()
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    await lms.post_statements(
        statement(account(ada), now, activity=LESSONS + "lesson-1"),
        statement(account(ada), now, activity=LESSONS + "lesson-2"),
        statement(account(ada), now - timedelta(days=1), activity=LESSONS + "lesson-0"),
        # An e-mail actor is the participant with that address.
        statement({"mbox": f"mailto:{grace.email}"}, now, activity=LESSONS + "lesson-1"),
        statement(account(grace), now, verb=PASSED, result={"score": {"scaled": 0.9}}),
        # Earn nothing: a low score, another course, before the competition started.
        statement(account(grace), now, verb=PASSED, result={"score": {"scaled": 0.5}}),
        statement(account(grace), now, activity="https://other.example/course"),
        statement(account(grace), now - timedelta(days=11)),
    )
    board = await lms.board_is(cid, [(grace, 35), (ada, 30)])
    first, second = board["entries"]
    assert (first["rank"], first["display_name"], first["submissions"]) == (
        1,
        grace.display_name,
        2,
    )
    assert (second["rank"], second["display_name"], second["submissions"]) == (
        2,
        ada.display_name,
        3,
    )
    assert abs(datetime.fromisoformat(second["last_submission_at"]) - now) < timedelta(seconds=1)
    assert board["total"] == 2 and board["period"] == "all" and board["as_of"]
    day = await lms.board_is(cid, [(grace, 35), (ada, 20)], "day", today)
    assert day["period_start"] == today.isoformat()
    await lms.board_is(cid, [(ada, 10)], "day", yesterday)
    week_start = today - timedelta(days=today.weekday())
    week = await lms.board(cid, "week", today)
    assert week["period_start"] == week_start.isoformat()
    month = await lms.board(cid, "month", today)
    assert month["period_start"] == today.replace(day=1).isoformat()
    # Without `date`, the current day in the competition's zone (UTC here).
    current = await lms.board(cid, "day")
    assert current["period_start"] == datetime.now(UTC).date().isoformat()
    around = await lms.http.get(
        f"/v1/competitions/{cid}/leaderboard/around-me",
        params={"period": "day", "date": today.isoformat(), "window": 1},
        headers=ada.auth,
    )
    assert around.status_code == 200, around.text
    assert around.json()["rank"] == 2
    assert [e["user_id"] for e in around.json()["entries"]] == [grace.user_id, ada.user_id]
    details = await lms.http.get(f"/v1/competitions/{cid}", headers=ada.auth)
    assert details.json()["viewer"]["best_score"] == 30
    assert details.json()["viewer"]["rank"] == 2


async def test_daily_cap_restarts_at_the_participants_local_midnight(lms: ActivityStack) -> None:
    owner, tokyo = await lms.sign_up(), await lms.sign_up("Asia/Tokyo")
    competition = await lms.competition(owner, rules={**RULES, "daily_cap": 25})
    await lms.join(competition, tokyo)
    # 15:00 UTC is midnight in Tokyo (no DST there).
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    midnight = datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)
    before = [midnight - timedelta(minutes=m) for m in (10, 6, 1)]  # 23:50, 23:54, 23:59
    after = [midnight + timedelta(minutes=m) for m in (1, 5)]  # 00:01, 00:05
    await lms.post_statements(
        *(
            statement(account(tokyo), at, activity=f"{LESSONS}lesson-{i}")
            for i, at in enumerate(before + after)
        )
    )
    # 10 + 10 + 5 (the cap of 25 leaves 5) on the first Tokyo day, 10 + 10 on the next.
    board = await lms.board_is(competition["id"], [(tokyo, 45)])
    assert board["entries"][0]["submissions"] == 5
    # The board's day is the competition's (UTC): all five fell on one UTC day.
    await lms.board_is(competition["id"], [(tokyo, 45)], "day", day)


async def test_voiding_a_statement_takes_its_points_off_the_boards(lms: ActivityStack) -> None:
    owner = await lms.sign_up()
    ada, grace = await lms.sign_up(), await lms.sign_up()
    competition = await lms.competition(owner)
    cid = competition["id"]
    await lms.join(competition, ada, grace)
    now, earlier = recent(), timedelta(seconds=30)
    lesson_1, _, _ = await lms.post_statements(
        statement(account(ada), now, activity=LESSONS + "lesson-1"),
        statement(account(ada), now, activity=LESSONS + "lesson-2"),
        statement(account(grace), now - earlier, activity=LESSONS + "lesson-1"),
    )
    await lms.board_is(cid, [(ada, 20), (grace, 10)])
    await lms.post_statements(
        {
            "actor": account(ada),
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": lesson_1},
        }
    )
    # Equal points now: Grace reached 10 first, so she leads.
    board = await lms.board_is(cid, [(grace, 10), (ada, 10)])
    assert board["entries"][1]["submissions"] == 1
    await lms.board_is(cid, [(grace, 10), (ada, 10)], "day", now.date())


async def test_activity_boards_have_no_private_split(lms: ActivityStack) -> None:
    owner = await lms.sign_up()
    competition = await lms.competition(owner)
    got = await lms.http.get(
        f"/v1/competitions/{competition['id']}/leaderboard", params={"split": "private"}
    )
    assert got.status_code == 422
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["code"] == "SPLIT_NOT_SUPPORTED"

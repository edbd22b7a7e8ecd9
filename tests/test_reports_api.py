"""Reports through the gateway: daily goal completions per local day, learner activity (SPEC §5.5).

Identity, ingest and the gateway run on real infrastructure; users register
through the gateway (their time zone travels to ingest in `user.registered`),
statements go through the LRS, and the competition and its enrollments are
published as the competitions service publishes them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from podium_contracts.events import (
    CompetitionCreated,
    CompetitionData,
    EnrollmentAccepted,
    EnrollmentData,
    EnrollmentLeft,
)
from podium_runtime.broker import EventPublisher, create_broker
from podium_runtime.outbox import new_event
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import TestInfrastructure, eventually
from xapi_support.stack import LrsStack, lrs_stack, statement

PLATFORM = "http://127.0.0.1:8000"  # ingest's default platform URL (actor account homePage)
GOAL = "http://adlnet.gov/expapi/verbs/completed"
OTHER = "http://adlnet.gov/expapi/verbs/attempted"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
PASSWORD = "Lesson-Plan-Password-77"  # dev-only test credential


@dataclass
class Person:
    """A registered, signed-in user."""

    user_id: str
    email: str
    name: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """Return the bearer header."""
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("reports")) as stack:
        yield stack


@pytest.fixture(scope="module")
async def publisher(test_infra: TestInfrastructure) -> AsyncIterator[EventPublisher]:
    """Publishes facts as the competitions service does (acks=all)."""
    settings = test_infra.settings(ServiceSettings, service_name="competitions-facts")
    broker = create_broker(settings)
    await broker.start()
    try:
        yield EventPublisher(broker, settings.kafka_topic_prefix)
    finally:
        await broker.stop()


async def _register(http: httpx.AsyncClient, name: str, timezone: str) -> Person:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
    made = await http.post(
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": name, "timezone": timezone},
    )
    assert made.status_code == 201, made.text
    login = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Person(made.json()["id"], email, name, login.json()["access_token"])


def _account(person: Person) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": PLATFORM, "name": person.user_id}}


def _mbox(person: Person) -> dict[str, Any]:
    return {"objectType": "Agent", "mbox": f"mailto:{person.email}"}


async def _post(lrs: LrsStack, *statements: dict[str, Any]) -> list[str]:
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as client:
        response = await client.post("/xapi/statements", json=list(statements))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@dataclass
class Scenario:
    """A competition with participants in two time zones, around one day."""

    competition_id: str
    owner: Person
    tokyo: Person
    los_angeles: Person
    idle: Person
    outsider: Person
    leaver: Person


@pytest.fixture(scope="module")
async def scenario(lrs: LrsStack, publisher: EventPublisher) -> Scenario:
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
        owner = await _register(http, "Owner", "Europe/Paris")
        tokyo = await _register(http, "Aiko", "Asia/Tokyo")
        los_angeles = await _register(http, "Luis", "America/Los_Angeles")
        idle = await _register(http, "Ida", "America/Los_Angeles")
        outsider = await _register(http, "Otto", "UTC")
        leaver = await _register(http, "Lea", "UTC")
    competition_id = uuid.uuid4()
    now = datetime.now(UTC)
    await publisher.publish(
        new_event(
            CompetitionCreated,
            "competitions",
            CompetitionData(
                competition_id=competition_id,
                owner_id=uuid.UUID(owner.user_id),
                kind="activity",
                title="Daily lessons",
                visibility="public",
                status="active",
                starts_at=now - timedelta(days=1000),
                ends_at=now + timedelta(days=30),
                timezone="UTC",
                rules={"points": [{"verb": GOAL, "points": 10}], "daily_goal_verb": GOAL},
            ),
        ),
        *(
            new_event(
                EnrollmentAccepted,
                "competitions",
                EnrollmentData(competition_id=competition_id, user_id=uuid.UUID(p.user_id)),
            )
            for p in (tokyo, los_angeles, idle, leaver)
        ),
        new_event(
            EnrollmentLeft,
            "competitions",
            EnrollmentData(competition_id=competition_id, user_id=uuid.UUID(leaver.user_id)),
        ),
    )
    # The day under test is 2024-06-03, local to each participant.
    (voided_goal,) = await _post(
        lrs, statement(actor=_account(idle), verb=GOAL, timestamp="2024-06-03T18:00:00Z")
    )
    await _post(
        lrs,
        # 00:30 on June 3 in Tokyo, still June 2 in UTC.
        statement(actor=_account(tokyo), verb=GOAL, timestamp="2024-06-02T15:30:00Z"),
        # 00:30 on June 4 in Tokyo: the next day there.
        statement(actor=_account(tokyo), verb=GOAL, timestamp="2024-06-03T15:30:00Z"),
        # 23:30 on June 3 in Los Angeles, already June 4 in UTC; by e-mail (mbox) actor.
        statement(actor=_mbox(los_angeles), verb=GOAL, timestamp="2024-06-04T06:30:00Z"),
        # Ida tried on June 3 but did not complete; her completion that day was voided;
        # 09:00 on June 2 in Los Angeles she did complete.
        statement(actor=_account(idle), verb=OTHER, timestamp="2024-06-03T18:30:00Z"),
        statement(
            actor=_account(idle),
            verb=VOIDED,
            object={"objectType": "StatementRef", "id": voided_goal},
        ),
        statement(actor=_account(idle), verb=GOAL, timestamp="2024-06-02T16:00:00Z"),
        # Not a participant, or no longer one.
        statement(actor=_account(outsider), verb=GOAL, timestamp="2024-06-03T12:00:00Z"),
        statement(actor=_account(leaver), verb=GOAL, timestamp="2024-06-03T12:00:00Z"),
    )
    return Scenario(str(competition_id), owner, tokyo, los_angeles, idle, outsider, leaver)


async def _names(
    lrs: LrsStack, scenario: Scenario, which: str, day: str, who: Person | None = None
) -> set[str] | None:
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
        got = await http.get(
            f"/v1/reports/competitions/{scenario.competition_id}/{which}",
            params={"date": day},
            headers=(who or scenario.owner).auth,
        )
    if got.status_code != 200:
        return None
    return {p["display_name"] for p in got.json()["participants"]}


async def test_completions_take_the_day_in_each_participants_time_zone(
    lrs: LrsStack, scenario: Scenario
) -> None:
    async def settled() -> bool:
        return await _names(lrs, scenario, "completions", "2024-06-03") == {"Aiko", "Luis"}

    await eventually(settled, timeout=30, message="Aiko and Luis completed June 3")
    assert await _names(lrs, scenario, "incomplete", "2024-06-03") == {"Ida"}
    assert await _names(lrs, scenario, "completions", "2024-06-02") == {"Ida"}
    assert await _names(lrs, scenario, "incomplete", "2024-06-02") == {"Aiko", "Luis"}
    assert await _names(lrs, scenario, "completions", "2024-06-04") == {"Aiko"}


async def test_completion_rows_say_when_and_in_which_time_zone(
    lrs: LrsStack, scenario: Scenario
) -> None:
    async def report() -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
            got = await http.get(
                f"/v1/reports/competitions/{scenario.competition_id}/completions",
                params={"date": "2024-06-03"},
                headers={"Authorization": f"Bearer {lrs.admin_token}"},
            )
        body = got.json()
        return body if got.status_code == 200 and len(body["participants"]) == 2 else None

    body = await eventually(report, timeout=30, message="the admin sees the report")
    assert body["daily_goal_verb"] == GOAL
    rows = {p["display_name"]: p for p in body["participants"]}
    assert rows["Aiko"]["timezone"] == "Asia/Tokyo"
    assert rows["Luis"]["timezone"] == "America/Los_Angeles"
    assert datetime.fromisoformat(rows["Aiko"]["completed_at"]) == datetime(
        2024, 6, 2, 15, 30, tzinfo=UTC
    )
    assert rows["Luis"]["statements"] == 1


async def test_reports_are_for_the_owner_and_admins_only(lrs: LrsStack, scenario: Scenario) -> None:
    await eventually(
        lambda: _names(lrs, scenario, "completions", "2024-06-03"), message="report ready"
    )
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
        path = f"/v1/reports/competitions/{scenario.competition_id}/completions"
        stranger = await http.get(path, params={"date": "2024-06-03"}, headers=scenario.tokyo.auth)
        anonymous = await http.get(path, params={"date": "2024-06-03"})
        unknown = await http.get(
            f"/v1/reports/competitions/{uuid.uuid4()}/completions",
            params={"date": "2024-06-03"},
            headers=scenario.owner.auth,
        )
        bad_date = await http.get(path, params={"date": "June 3"}, headers=scenario.owner.auth)
    assert stranger.status_code == 404 and stranger.json()["code"] == "COMPETITION_NOT_FOUND"
    assert anonymous.status_code == 401
    assert unknown.status_code == 404
    assert bad_date.status_code in (400, 422)
    assert bad_date.headers["content-type"].startswith("application/problem+json")


async def test_learner_activity_per_local_day_for_the_learner_and_admins(
    lrs: LrsStack, scenario: Scenario
) -> None:
    path = f"/v1/reports/learners/{scenario.tokyo.user_id}/activity"

    async def days() -> dict[str, int] | None:
        async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
            got = await http.get(path, headers=scenario.tokyo.auth)
        assert got.status_code == 200, got.text
        assert got.json()["timezone"] == "Asia/Tokyo"
        found = {d["date"]: d["statements"] for d in got.json()["days"]}
        return found if len(found) == 2 else None

    # In Tokyo the two statements fall on June 3 and June 4 (in UTC: June 2 and June 3).
    assert await eventually(days, timeout=30, message="activity per day") == {
        "2024-06-03": 1,
        "2024-06-04": 1,
    }
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
        other = await http.get(path, headers=scenario.los_angeles.auth)
        admin = await http.get(path, headers={"Authorization": f"Bearer {lrs.admin_token}"})
    assert other.status_code == 404
    assert admin.status_code == 200 and len(admin.json()["days"]) == 2

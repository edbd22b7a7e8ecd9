"""Competitions through the gateway, end to end: create, activate, list, get, roles, privacy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from competitions_support.stack import CompetitionsStack, competitions_stack
from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, User
from podium_runtime.testing import TestInfrastructure, eventually


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CompetitionsStack]:
    async with competitions_stack(test_infra, tmp_path_factory.mktemp("competitions")) as running:
        yield running


async def test_create_activate_list_and_get_with_viewer_roles(stack: CompetitionsStack) -> None:
    owner, player, stranger = (
        await stack.sign_up("Owner"),
        await stack.sign_up("Player One"),
        await stack.sign_up("Stranger"),
    )
    tag = uuid.uuid4().hex
    made = await stack.create(owner, title=f"Churn {tag}", status="draft", max_participants=100)
    assert made["status"] == "draft" and made["owner_id"] == owner.user_id
    url = f"/v1/competitions/{made['id']}"

    # A draft is the owner's alone.
    assert (await stack.http.get(url, headers=stranger.auth)).status_code == 404
    activated = await stack.http.patch(url, json={"status": "active"}, headers=owner.auth)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"

    listed = await stack.http.get("/v1/competitions", params={"q": tag, "status": "active"})
    assert [c["id"] for c in listed.json()["items"]] == [made["id"]]
    assert listed.json()["next_cursor"] is None

    assert (await stack.join(made["id"], player))["status"] == "accepted"

    async def role(user: User | None) -> str:
        response = await stack.http.get(url, headers=user.auth if user else {})
        assert response.status_code == 200, response.text
        return str(response.json()["viewer"]["role"])

    assert await role(owner) == "sponsor"
    assert await role(player) == "participant"
    assert await role(stranger) == "viewer"
    assert await role(None) == "viewer"
    detail = (await stack.http.get(url, headers=player.auth)).json()
    assert detail["viewer"]["enrolled_at"]
    assert detail["viewer"]["submissions_limit"] == 5
    assert detail["participants"] == 1

    roster = await stack.http.get(f"{url}/participants")
    names = [p["display_name"] for p in roster.json()["items"]]
    assert names == ["Player One"]
    assert "email" not in roster.json()["items"][0]

    stats = await stack.http.get(f"{url}/stats", headers=owner.auth)
    assert stats.status_code == 200 and stats.json()["participants"] == 1
    assert (await stack.http.get(f"{url}/stats", headers=player.auth)).status_code == 403


async def test_private_competitions_are_invisible_to_strangers(stack: CompetitionsStack) -> None:
    owner, stranger, friend = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    tag = uuid.uuid4().hex
    secret = await stack.create(owner, title=f"Secret {tag}", visibility="private")
    assert secret["invite_code"]
    url = f"/v1/competitions/{secret['id']}"

    hidden = await stack.http.get(url, headers=stranger.auth)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")
    assert (await stack.http.get(url)).status_code == 404
    for who in (stranger.auth, {}):
        listed = await stack.http.get("/v1/competitions", params={"q": tag}, headers=who)
        assert listed.json()["items"] == []
    assert (await stack.http.get(f"{url}/participants", headers=stranger.auth)).status_code == 404

    asked = await stack.http.post(f"/v1/join/{secret['invite_code']}", headers=friend.auth)
    assert asked.status_code == 202, asked.text
    assert asked.json()["competition_id"] == secret["id"]
    assert (await stack.decided(secret["id"], friend))["status"] == "accepted"
    listed = await stack.http.get("/v1/competitions", params={"q": tag}, headers=friend.auth)
    assert [c["id"] for c in listed.json()["items"]] == [secret["id"]]
    seen = (await stack.http.get(url, headers=friend.auth)).json()
    assert seen["viewer"]["role"] == "participant"
    assert seen["invite_code"] is None  # only the owner sees (and shares) the code


async def test_status_moves_only_along_the_machine(stack: CompetitionsStack) -> None:
    owner, other = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, status="draft")
    url = f"/v1/competitions/{made['id']}"
    skip = await stack.http.patch(url, json={"status": "ended"}, headers=owner.auth)
    assert skip.status_code == 409 and skip.json()["code"] == "INVALID_TRANSITION"
    assert (await stack.http.patch(url, json={"status": "active"}, headers=owner.auth)).is_success
    not_owner = await stack.http.patch(url, json={"title": "Taken"}, headers=other.auth)
    assert not_owner.status_code == 403
    anonymous = await stack.http.patch(url, json={"title": "Taken"})
    assert anonymous.status_code == 401
    canceled = await stack.http.patch(url, json={"status": "canceled"}, headers=owner.auth)
    assert canceled.json()["status"] == "canceled"
    revived = await stack.http.patch(url, json={"status": "active"}, headers=owner.auth)
    assert revived.status_code == 409 and revived.json()["code"] == "INVALID_TRANSITION"


async def test_admin_may_change_any_competition(stack: CompetitionsStack) -> None:
    owner = await stack.sign_up()
    admin = User("", ADMIN_EMAIL, "admin", await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD))
    made = await stack.create(owner, visibility="private")
    url = f"/v1/competitions/{made['id']}"
    changed = await stack.http.patch(url, json={"title": "Moderated"}, headers=admin.auth)
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Moderated"


async def test_timezone_round_trips_and_unknown_zones_are_refused(
    stack: CompetitionsStack,
) -> None:
    owner = await stack.sign_up()
    made = await stack.create(owner, timezone="America/New_York")
    got = await stack.http.get(f"/v1/competitions/{made['id']}")
    assert got.json()["timezone"] == "America/New_York"
    now = datetime.now(UTC)
    mars = await stack.http.post(
        "/v1/competitions",
        json={
            "kind": "prediction",
            "metric": "rmse",
            "title": "Olympus Mons",
            "timezone": "Mars/Olympus",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=owner.auth,
    )
    assert mars.status_code == 422
    assert mars.headers["content-type"].startswith("application/problem+json")
    assert mars.json()["code"] == "VALIDATION_ERROR"
    assert any(e["field"] == "timezone" for e in mars.json()["errors"])


async def test_invalid_input_is_a_problem_never_a_500(stack: CompetitionsStack) -> None:
    owner = await stack.sign_up()
    made = await stack.create(owner)
    cases = [
        ("POST", "/v1/competitions", {"kind": "quiz", "title": "x"}),
        ("POST", "/v1/competitions", {"kind": "activity", "title": "x", "rules": {"points": 3}}),
        ("PATCH", f"/v1/competitions/{made['id']}", {"ends_at": "2000-01-01T00:00:00Z"}),
        ("PATCH", f"/v1/competitions/{made['id']}", {"status": "paused"}),
        ("PATCH", f"/v1/competitions/{made['id']}", {"title": None}),
    ]
    for method, path, body in cases:
        response = await stack.http.request(method, path, json=body, headers=owner.auth)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
    listing = await stack.http.get("/v1/competitions", params={"cursor": "%%%"})
    assert listing.status_code == 400 and listing.json()["code"] == "INVALID_CURSOR"
    unknown = await stack.http.get(f"/v1/competitions/{uuid.uuid4()}")
    assert unknown.status_code == 404
    not_uuid = await stack.http.get("/v1/competitions/not-a-uuid")
    assert not_uuid.status_code == 422


async def test_competitions_end_at_ends_at(stack: CompetitionsStack) -> None:
    owner = await stack.sign_up()
    now = datetime.now(UTC)
    made = await stack.create(
        owner,
        starts_at=(now - timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(seconds=1)).isoformat(),
    )

    async def ended() -> bool:
        got = await stack.http.get(f"/v1/competitions/{made['id']}")
        return bool(got.json()["status"] == "ended")

    await eventually(ended, timeout=10, message="competition ended on its own")

"""The competitions service on real infrastructure: CRUD, visibility, joins, capacity, auto-end."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from competitions_harness import Harness
from podium_runtime.testing import eventually


async def test_create_get_and_viewer_roles(harness: Harness) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    made = await harness.create(owner, timezone="America/New_York", title="  Churn  ")
    assert made["title"] == "Churn"
    assert made["timezone"] == "America/New_York"
    assert made["viewer"]["role"] == "sponsor"
    assert made["created_at"]
    seen = await harness.http.get(
        f"/internal/v1/competitions/{made['id']}", headers=harness.as_user(stranger)
    )
    assert seen.status_code == 200
    assert seen.json()["viewer"]["role"] == "viewer"
    assert seen.json()["viewer"]["submissions_limit"] == 5
    assert seen.json()["invite_code"] is None
    anonymous = await harness.http.get(f"/internal/v1/competitions/{made['id']}")
    assert anonymous.json()["viewer"]["role"] == "viewer"


async def test_unknown_timezone_is_a_validation_problem(harness: Harness) -> None:
    now = datetime.now(UTC)
    response = await harness.http.post(
        "/internal/v1/competitions",
        json={
            "kind": "prediction",
            "metric": "rmse",
            "title": "Mars",
            "timezone": "Mars/Olympus",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=harness.as_user(uuid.uuid4()),
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["errors"][0]["field"] == "timezone"


async def test_status_machine_and_ownership(harness: Harness) -> None:
    owner = uuid.uuid4()
    made = await harness.create(owner, status="draft")
    url = f"/internal/v1/competitions/{made['id']}"
    as_owner = harness.as_user(owner)
    skip = await harness.http.patch(url, json={"status": "ended"}, headers=as_owner)
    assert skip.status_code == 409
    assert skip.json()["code"] == "INVALID_TRANSITION"
    other = await harness.http.patch(
        url, json={"title": "Mine now"}, headers=harness.as_user(uuid.uuid4())
    )
    assert other.status_code == 404  # a draft is invisible to others
    activated = await harness.http.patch(url, json={"status": "active"}, headers=as_owner)
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    not_owner = await harness.http.patch(
        url, json={"title": "Mine now"}, headers=harness.as_user(uuid.uuid4())
    )
    assert not_owner.status_code == 403 and not_owner.json()["code"] == "NOT_OWNER"
    admin = await harness.http.patch(
        url, json={"title": "Renamed"}, headers=harness.as_user(uuid.uuid4(), "admin")
    )
    assert admin.status_code == 200 and admin.json()["title"] == "Renamed"
    ended = await harness.http.patch(url, json={"status": "ended"}, headers=as_owner)
    assert ended.json()["status"] == "ended"
    back = await harness.http.patch(url, json={"status": "active"}, headers=as_owner)
    assert back.status_code == 409 and back.json()["code"] == "INVALID_TRANSITION"
    cancel = await harness.http.patch(url, json={"status": "canceled"}, headers=as_owner)
    assert cancel.status_code == 409
    kind = await harness.http.patch(url, json={"kind": "activity"}, headers=as_owner)
    assert kind.status_code == 422
    updates = await eventually(
        lambda: _async(harness.log.of("competition.updated", competition_id=made["id"])),
        message="updates announced",
    )
    assert "active" in [ev["data"]["status"] for ev in updates]
    assert harness.log.of("competition.created", competition_id=made["id"])


async def _async(value: object) -> object:
    return value


async def test_private_competitions_are_invisible_to_strangers(harness: Harness) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    secret = await harness.create(owner, visibility="private", title=f"Secret {uuid.uuid4().hex}")
    assert len(secret["invite_code"]) >= 16
    hidden = await harness.http.get(
        f"/internal/v1/competitions/{secret['id']}", headers=harness.as_user(stranger)
    )
    assert hidden.status_code == 404
    listed = await harness.http.get(
        "/internal/v1/competitions",
        params={"q": secret["title"]},
        headers=harness.as_user(stranger),
    )
    assert listed.json()["items"] == []
    mine = await harness.http.get(
        "/internal/v1/competitions", params={"q": secret["title"]}, headers=harness.as_user(owner)
    )
    assert [c["id"] for c in mine.json()["items"]] == [secret["id"]]
    joined = await harness.join(secret["id"], stranger, secret["invite_code"])
    assert joined["status"] == "accepted"
    visible = await harness.http.get(
        f"/internal/v1/competitions/{secret['id']}", headers=harness.as_user(stranger)
    )
    assert visible.json()["viewer"]["role"] == "participant"
    assert visible.json()["viewer"]["enrolled_at"]
    assert visible.json()["invite_code"] is None


async def test_list_filters_and_cursor_pagination(harness: Harness) -> None:
    owner = uuid.uuid4()
    tag = uuid.uuid4().hex
    made = [await harness.create(owner, title=f"Series {tag} #{i}") for i in range(5)]
    await harness.create(
        owner,
        kind="activity",
        metric=None,
        title=f"Series {tag} activity",
        rules={"points": [{"verb": "http://adlnet.gov/expapi/verbs/completed", "points": 10}]},
    )
    seen: list[dict[str, str]] = []
    cursor = None
    while True:
        params = {"q": tag, "kind": "prediction", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await harness.http.get("/internal/v1/competitions", params=params)).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # Every competition exactly once, newest first (ties broken by id, as the cursor is).
    assert sorted(c["id"] for c in seen) == sorted(c["id"] for c in made)
    order = [(datetime.fromisoformat(c["created_at"]), c["id"]) for c in seen]
    assert order == sorted(order, reverse=True)
    bad = await harness.http.get("/internal/v1/competitions", params={"cursor": "garbage!"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_CURSOR"
    ended = await harness.http.get(
        "/internal/v1/competitions", params={"q": tag, "status": "ended"}
    )
    assert ended.json()["items"] == []


async def test_join_accept_rejoin_and_leave(harness: Harness) -> None:
    owner, user = uuid.uuid4(), uuid.uuid4()
    made = await harness.create(owner, max_participants=5)
    first = await harness.join(made["id"], user)
    assert first["status"] == "accepted" and first["enrolled_at"]
    again = await harness.join(made["id"], user)
    assert again["status"] == "accepted"
    assert again["enrolled_at"] == first["enrolled_at"]
    detail = await harness.http.get(f"/internal/v1/competitions/{made['id']}")
    assert detail.json()["participants"] == 1
    accepted = harness.log.of("enrollment.accepted", competition_id=made["id"], user_id=user)
    await eventually(
        lambda: _async(harness.log.of("enrollment.accepted", competition_id=made["id"])),
        message="acceptance announced",
    )
    accepted = harness.log.of("enrollment.accepted", competition_id=made["id"], user_id=user)
    assert len(accepted) == 1  # the re-join announced nothing new

    url = f"/internal/v1/competitions/{made['id']}/enrollment"
    left = await harness.http.delete(url, headers=harness.as_user(user))
    assert left.status_code == 204
    assert (await harness.http.get(url, headers=harness.as_user(user))).json()["status"] == "left"
    twice = await harness.http.delete(url, headers=harness.as_user(user))
    assert twice.status_code == 404 and twice.json()["code"] == "NOT_ENROLLED"
    detail = await harness.http.get(f"/internal/v1/competitions/{made['id']}")
    assert detail.json()["participants"] == 0
    await eventually(
        lambda: _async(harness.log.of("enrollment.left", competition_id=made["id"], user_id=user)),
        message="leaving announced",
    )
    back = await harness.join(made["id"], user)
    assert back["status"] == "accepted"


async def test_someone_elses_enrollment_is_not_readable(harness: Harness) -> None:
    made = await harness.create(uuid.uuid4())
    await harness.join(made["id"], uuid.uuid4())
    other = await harness.http.get(
        f"/internal/v1/competitions/{made['id']}/enrollment",
        headers=harness.as_user(uuid.uuid4()),
    )
    assert other.status_code == 404 and other.json()["code"] == "NOT_ENROLLED"


async def test_rejected_when_not_active(harness: Harness) -> None:
    made = await harness.create(uuid.uuid4(), status="draft")
    decided = await harness.join(made["id"], uuid.uuid4())
    assert (decided["status"], decided["reason"]) == ("rejected", "COMPETITION_NOT_ACTIVE")


async def test_rejected_when_already_started(harness: Harness) -> None:
    now = datetime.now(UTC)
    made = await harness.create(
        uuid.uuid4(), starts_at=(now - timedelta(hours=1)).isoformat(), late_join=False
    )
    decided = await harness.join(made["id"], uuid.uuid4())
    assert (decided["status"], decided["reason"]) == ("rejected", "ALREADY_STARTED")
    late = await harness.create(
        uuid.uuid4(), starts_at=(now - timedelta(hours=1)).isoformat(), late_join=True
    )
    assert (await harness.join(late["id"], uuid.uuid4()))["status"] == "accepted"


async def test_rejected_when_full(harness: Harness) -> None:
    made = await harness.create(uuid.uuid4(), max_participants=1)
    assert (await harness.join(made["id"], uuid.uuid4()))["status"] == "accepted"
    decided = await harness.join(made["id"], uuid.uuid4())
    assert (decided["status"], decided["reason"]) == ("rejected", "FULL")
    rejected = await eventually(
        lambda: _async(harness.log.of("enrollment.rejected", competition_id=made["id"])),
        message="rejection announced",
    )
    assert rejected[0]["data"]["reason"] == "FULL"


async def test_rejected_with_wrong_invite_code(harness: Harness) -> None:
    made = await harness.create(uuid.uuid4(), visibility="private")
    missing = await harness.join(made["id"], uuid.uuid4())
    assert (missing["status"], missing["reason"]) == ("rejected", "INVALID_INVITE_CODE")
    wrong = await harness.join(made["id"], uuid.uuid4(), made["invite_code"][:-1] + "?")
    assert wrong["reason"] == "INVALID_INVITE_CODE"


async def test_regenerated_invite_code_retires_the_old_one(harness: Harness) -> None:
    owner = uuid.uuid4()
    made = await harness.create(owner, visibility="private")
    fresh = await harness.http.post(
        f"/internal/v1/competitions/{made['id']}/invite-code", headers=harness.as_user(owner)
    )
    assert fresh.status_code == 200
    new_code = fresh.json()["invite_code"]
    assert new_code and new_code != made["invite_code"]
    old = await harness.join(made["id"], uuid.uuid4(), made["invite_code"])
    assert old["reason"] == "INVALID_INVITE_CODE"
    assert (await harness.join(made["id"], uuid.uuid4(), new_code))["status"] == "accepted"
    target = await harness.http.get("/internal/v1/join-targets", params={"invite_code": new_code})
    assert target.json() == {"competition_id": made["id"]}
    gone = await harness.http.get(
        "/internal/v1/join-targets", params={"invite_code": made["invite_code"]}
    )
    assert gone.status_code == 404 and gone.json()["code"] == "INVALID_INVITE_CODE"


async def test_owner_cannot_join(harness: Harness) -> None:
    owner = uuid.uuid4()
    made = await harness.create(owner)
    decided = await harness.join(made["id"], owner)
    assert (decided["status"], decided["reason"]) == ("rejected", "OWNER_CANNOT_JOIN")


async def test_capacity_holds_under_concurrent_requests(harness: Harness) -> None:
    made = await harness.create(uuid.uuid4(), max_participants=10)
    users = [uuid.uuid4() for _ in range(30)]
    requests = await asyncio.gather(*(harness.request_join(made["id"], u) for u in users))
    decided = await asyncio.gather(
        *(harness.decision(made["id"], u, r) for u, r in zip(users, requests, strict=True))
    )
    outcomes = sorted((d["status"], d["reason"]) for d in decided)
    assert outcomes.count(("accepted", None)) == 10
    assert outcomes.count(("rejected", "FULL")) == 20
    detail = await harness.http.get(f"/internal/v1/competitions/{made['id']}")
    assert detail.json()["participants"] == 10
    roster = await harness.http.get(
        f"/internal/v1/competitions/{made['id']}/participants", params={"limit": 100}
    )
    assert roster.json()["total"] == 10 and len(roster.json()["items"]) == 10
    lowered = await harness.http.patch(
        f"/internal/v1/competitions/{made['id']}",
        json={"max_participants": 5},
        headers=harness.as_user(uuid.UUID(made["owner_id"])),
    )
    assert lowered.status_code == 409
    assert lowered.json()["code"] == "MAX_PARTICIPANTS_BELOW_ENROLLED"


async def test_roster_shows_display_names_from_user_events(harness: Harness) -> None:
    owner = uuid.uuid4()
    made = await harness.create(owner)
    ada = await harness.register_user("Ada Lovelace")
    await harness.join(made["id"], ada)

    async def named() -> list[dict[str, object]] | None:
        roster = await harness.http.get(f"/internal/v1/competitions/{made['id']}/participants")
        items = roster.json()["items"]
        return items if items and items[0]["display_name"] == "Ada Lovelace" else None

    items = await eventually(named, message="display name projected")
    # Display names only (SPEC §5.2): never an e-mail, and user ids for the owner alone.
    assert items[0]["user_id"] is None and "email" not in items[0]
    managed = await harness.http.get(
        f"/internal/v1/competitions/{made['id']}/participants", headers=harness.as_user(owner)
    )
    assert managed.json()["items"][0]["user_id"] == str(ada)
    stats = await harness.http.get(
        f"/internal/v1/competitions/{made['id']}/stats", headers=harness.as_user(owner)
    )
    assert stats.status_code == 200 and stats.json()["participants"] == 1
    assert stats.json()["joins_per_day"][0]["joins"] == 1
    not_owner = await harness.http.get(
        f"/internal/v1/competitions/{made['id']}/stats", headers=harness.as_user(ada)
    )
    assert not_owner.status_code == 403


async def test_private_roster_is_for_members_only(harness: Harness) -> None:
    made = await harness.create(uuid.uuid4(), visibility="private")
    member = uuid.uuid4()
    await harness.join(made["id"], member, made["invite_code"])
    url = f"/internal/v1/competitions/{made['id']}/participants"
    assert (await harness.http.get(url)).status_code == 404
    assert (await harness.http.get(url, headers=harness.as_user(uuid.uuid4()))).status_code == 404
    ok = await harness.http.get(url, headers=harness.as_user(member))
    assert ok.status_code == 200 and ok.json()["total"] == 1


async def test_competitions_end_on_their_own(harness: Harness) -> None:
    now = datetime.now(UTC)
    made = await harness.create(
        uuid.uuid4(),
        starts_at=(now - timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(seconds=1)).isoformat(),
    )

    async def ended() -> bool:
        detail = await harness.http.get(f"/internal/v1/competitions/{made['id']}")
        return bool(detail.json()["status"] == "ended")

    await eventually(ended, timeout=10, message="competition ended at ends_at")
    announced = await eventually(
        lambda: _async(
            [
                ev
                for ev in harness.log.of("competition.updated", competition_id=made["id"])
                if ev["data"]["status"] == "ended"
            ]
        ),
        message="end announced",
    )
    assert len(announced) == 1

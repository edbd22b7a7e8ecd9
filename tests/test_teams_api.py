"""End-to-end teams, final submissions and competition phase through the gateway (SPEC §10.2).

Identity, competitions, scoring and the gateway run for real on Postgres, Redis
and the broker. Team joins and merges are commands decided in the competition's
partition order; the tests await their outcomes through the public API.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from podium_runtime.testing import TestInfrastructure, eventually
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.stack import User
from submissions_support.stack import (
    PredictionStack,
    answer_key,
    is_public,
    prediction_stack,
    predictions_csv,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """One running stack for the whole module (consumer groups join once)."""
    async with prediction_stack(test_infra, tmp_path_factory.mktemp("teams")) as running:
        yield running


async def create_team(stack: PredictionStack, competition_id: str, user: User, name: str) -> dict:
    """Create a team through the gateway."""
    made = await stack.http.post(
        f"/v1/competitions/{competition_id}/teams", json={"name": name}, headers=user.auth
    )
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def decided(stack: PredictionStack, request_id: str, user: User) -> dict[str, Any]:
    """Await the decision of a team request."""

    async def done() -> dict[str, Any] | None:
        got = await stack.http.get(f"/v1/teams/requests/{request_id}", headers=user.auth)
        assert got.status_code == 200, got.text
        body = got.json()
        return body if body["status"] != "pending" else None

    return await eventually(done, timeout=30, interval=0.05, message="team request decided")


async def join_team(stack: PredictionStack, code: str, user: User) -> dict[str, Any]:
    """Follow a team's invite link and await the decision."""
    asked = await stack.http.post(f"/v1/teams/join/{code}", headers=user.auth)
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending"
    return await decided(stack, asked.json()["request_id"], user)


async def merge(stack: PredictionStack, team_id: str, into: str, user: User) -> dict[str, Any]:
    """Ask to merge a team into another and await the decision."""
    asked = await stack.http.post(
        f"/v1/teams/{team_id}/merge", json={"into_team_id": into}, headers=user.auth
    )
    assert asked.status_code == 202, asked.text
    return await decided(stack, asked.json()["request_id"], user)


async def scored(stack: PredictionStack, competition_id: str, user: User, csv: bytes) -> dict:
    """Submit a file and await its score."""
    made = await stack.submit(competition_id, user, csv)
    assert made.status_code == 202, made.text
    judged = await stack.outcome(made.json()["id"], user)
    assert judged["status"] == "scored", judged
    return judged


async def test_phase_is_computed_from_status_and_window(stack: PredictionStack) -> None:
    owner = await stack.sign_up()
    upcoming = await stack.create(owner)
    running = await stack.prediction_competition(owner)
    assert (upcoming["phase"], running["phase"]) == ("upcoming", "running")
    ended = await stack.http.patch(
        f"/v1/competitions/{running['id']}", json={"status": "ended"}, headers=owner.auth
    )
    assert ended.status_code == 200 and ended.json()["phase"] == "ended"
    listed = await stack.http.get("/v1/competitions", params={"limit": 100}, headers=owner.auth)
    phases = {c["id"]: c["phase"] for c in listed.json()["items"]}
    assert phases[upcoming["id"]] == "upcoming" and phases[running["id"]] == "ended"


async def test_create_invite_join_share_the_daily_limit_and_one_board_row(
    stack: PredictionStack,
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(
        owner, daily_submission_limit=3, team_size_limit=3
    )
    cid = competition["id"]
    csv, ids, targets = answer_key(seed=21)
    await stack.upload_key(cid, owner, csv)
    ada, bob, cy = [await stack.sign_up(n) for n in ("Ada", "Bob", "Cy")]
    for player in (ada, cy):
        assert (await stack.join(cid, player))["status"] == "accepted"

    # A stranger to the competition cannot create a team; a participant can.
    refused = await stack.http.post(
        f"/v1/competitions/{cid}/teams", json={"name": "Nope"}, headers=bob.auth
    )
    assert refused.status_code == 403 and refused.json()["code"] == "NOT_ENROLLED"
    rng = np.random.default_rng(3)
    await scored(stack, cid, ada, predictions_csv(ids, targets * 0.5 + rng.random(len(ids))))
    team = await create_team(stack, cid, ada, "Lovelace")
    assert [m["user_id"] for m in team["members"]] == [ada.user_id] and team["invite_code"]

    # Bob is not a participant yet: the invite link enrolls him under the join rules.
    outcome = await join_team(stack, team["invite_code"], bob)
    assert outcome["status"] == "accepted" and outcome["team_id"] == team["id"]
    assert (await stack.enrollment(cid, bob))["status"] == "accepted"
    mine = await stack.http.get(f"/v1/competitions/{cid}/teams/mine", headers=bob.auth)
    assert mine.status_code == 200
    assert {m["user_id"] for m in mine.json()["members"]} == {ada.user_id, bob.user_id}
    solo = await stack.http.get(f"/v1/competitions/{cid}/teams/mine", headers=cy.auth)
    assert solo.status_code == 404 and solo.json()["code"] == "NO_TEAM"

    # Ada used one of the team's three slots before creating it: Bob has two left.
    await scored(stack, cid, bob, predictions_csv(ids, targets * 0.7 + rng.random(len(ids))))
    await scored(stack, cid, ada, predictions_csv(ids, rng.random(len(ids))))
    over = await stack.submit(cid, bob, predictions_csv(ids, rng.random(len(ids))))
    assert over.status_code == 429, over.text
    assert (over.json()["limit"], over.json()["used"]) == (3, 3)
    details = await stack.http.get(f"/v1/competitions/{cid}", headers=ada.auth)
    viewer = details.json()["viewer"]
    assert viewer["submissions_today"] == 3 and viewer["team_id"] == team["id"]
    await scored(stack, cid, cy, predictions_csv(ids, rng.random(len(ids))))

    async def board() -> list[dict[str, Any]] | None:
        got = await stack.board(cid)
        entries = got.json()["entries"]
        return (
            entries if len(entries) == 2 and sum(e["submissions"] for e in entries) == 4 else None
        )

    entries = await eventually(board, timeout=30, message="one row per team")
    team_row = next(e for e in entries if e.get("team_id") == team["id"])
    solo_row = next(e for e in entries if e["user_id"] == cy.user_id)
    assert team_row["user_id"] == team["id"] and team_row["display_name"] == "Lovelace"
    assert set(team_row["members"]) == {ada.user_id, bob.user_id}
    assert team_row["submissions"] == 3 and solo_row["submissions"] == 1
    assert solo_row.get("team_id") is None


async def test_merges_respect_size_daily_counts_and_the_deadline(stack: PredictionStack) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(
        owner, daily_submission_limit=2, team_size_limit=3
    )
    cid = competition["id"]
    csv, ids, targets = answer_key(seed=22)
    await stack.upload_key(cid, owner, csv)
    players = await stack.sign_up_many(5)
    for player in players:
        assert (await stack.join(cid, player))["status"] == "accepted"
    a, b, c, d, e = players
    red = await create_team(stack, cid, a, "Red")
    assert (await join_team(stack, red["invite_code"], b))["status"] == "accepted"
    blue = await create_team(stack, cid, c, "Blue")
    assert (await join_team(stack, blue["invite_code"], d))["status"] == "accepted"
    green = await create_team(stack, cid, e, "Green")

    # Two plus two is over the size limit of three.
    too_big = await merge(stack, blue["id"], red["id"], c)
    assert (too_big["status"], too_big["reason"]) == ("rejected", "TEAM_FULL")
    # Only a member may merge a team away; others do not even see it.
    not_mine = await stack.http.post(
        f"/v1/teams/{green['id']}/merge", json={"into_team_id": red["id"]}, headers=a.auth
    )
    assert not_mine.status_code == 404 and not_mine.json()["code"] == "TEAM_NOT_FOUND"

    # Red used both of today's slots, Green one: together they would have three of two.
    for player in (a, b, e):
        await scored(stack, cid, player, predictions_csv(ids, targets * 0.3 + 0.2))
    over_limit = await merge(stack, green["id"], red["id"], e)
    assert (over_limit["status"], over_limit["reason"]) == ("rejected", "DAILY_LIMIT_EXCEEDED")
    # Blue has used nothing today: it fits into Green (1 + 2 people, 1 + 0 submissions).
    fits = await merge(stack, blue["id"], green["id"], d)
    assert (fits["status"], fits["team_id"]) == ("accepted", green["id"])
    mine = await stack.http.get(f"/v1/competitions/{cid}/teams/mine", headers=c.auth)
    assert mine.json()["id"] == green["id"] and len(mine.json()["members"]) == 3
    gone = await stack.http.get(f"/v1/competitions/{cid}/teams/mine", headers=d.auth)
    assert gone.json()["id"] == green["id"]
    # The merged team shares Green's history: one slot left of two.
    await scored(stack, cid, c, predictions_csv(ids, targets * 0.3 + 0.1))
    refused = await stack.submit(cid, d, predictions_csv(ids, targets * 0.2))
    assert refused.status_code == 429

    # Past the merge deadline teams are frozen: no merge, no join.
    deadline = await stack.http.patch(
        f"/v1/competitions/{cid}",
        json={"team_merge_deadline": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        headers=owner.auth,
    )
    assert deadline.status_code == 200, deadline.text
    late = await stack.sign_up()
    frozen_join = await join_team(stack, red["invite_code"], late)
    assert (frozen_join["status"], frozen_join["reason"]) == ("rejected", "TEAMS_FROZEN")
    frozen_merge = await merge(stack, red["id"], green["id"], a)
    assert (frozen_merge["status"], frozen_merge["reason"]) == ("rejected", "TEAMS_FROZEN")


async def test_fifty_concurrent_team_joins_fill_a_capacity_of_ten_people(
    stack: PredictionStack,
) -> None:
    owner = await stack.sign_up()
    competition = await stack.prediction_competition(owner, max_participants=10)
    cid = competition["id"]
    captain = await stack.sign_up()
    assert (await stack.join(cid, captain))["status"] == "accepted"
    team = await create_team(stack, cid, captain, "Crowd")
    crowd = await stack.sign_up_many(50)

    async def ask(user: User) -> tuple[User, str]:
        got = await stack.http.post(f"/v1/teams/join/{team['invite_code']}", headers=user.auth)
        assert got.status_code == 202, got.text
        return user, got.json()["request_id"]

    asked = await asyncio.gather(*(ask(user) for user in crowd))
    # One poller walks the requests (fifty pollers at once would only crowd the stack).
    outcomes: list[dict[str, Any]] = []
    waiting = list(asked)

    async def all_decided() -> bool:
        for user, request_id in list(waiting):
            got = await stack.http.get(f"/v1/teams/requests/{request_id}", headers=user.auth)
            assert got.status_code == 200, got.text
            if got.json()["status"] != "pending":
                outcomes.append(got.json())
                waiting.remove((user, request_id))
        return not waiting

    await eventually(all_decided, timeout=60, interval=0.2, message="fifty team joins decided")
    accepted = [o for o in outcomes if o["status"] == "accepted"]
    assert len(accepted) == 9  # the captain holds the tenth seat
    assert {o["reason"] for o in outcomes if o["status"] == "rejected"} == {"FULL"}
    details = await stack.http.get(f"/v1/competitions/{cid}", headers=owner.auth)
    assert details.json()["participants"] == 10
    mine = await stack.http.get(f"/v1/competitions/{cid}/teams/mine", headers=captain.auth)
    assert len(mine.json()["members"]) == 10


def auc(targets: np.ndarray, values: np.ndarray) -> float:
    """AUC as scikit-learn computes it on values rounded like the CSV."""
    return float(roc_auc_score(targets, np.round(values, 6)))


async def test_final_selection_decides_the_private_board(stack: PredictionStack) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner, daily_submission_limit=10)
    cid = competition["id"]
    csv, ids, targets = answer_key(seed=23)
    await stack.upload_key(cid, owner, csv)
    public = is_public(cid, ids, competition["public_fraction"])
    picker, idle = await stack.sign_up("Picker"), await stack.sign_up("Idle")
    for player in (picker, idle):
        assert (await stack.join(cid, player))["status"] == "accepted"
    rng = np.random.default_rng(5)
    noise = rng.random(len(ids))
    # Public-strong/private-weak, public-weak/private-perfect, and a middling one.
    shapes = {
        "public_star": np.where(public, targets * 0.8 + noise * 0.2, noise),
        "private_star": np.where(public, noise, targets * 0.9 + noise * 0.1),
        "middle": targets * 0.3 + noise * 0.7,
    }
    made = {}
    for name, values in shapes.items():
        made[name] = await scored(stack, cid, picker, predictions_csv(ids, values))
    idle_made = [
        await scored(stack, cid, idle, predictions_csv(ids, targets * w + noise * (1 - w)))
        for w in (0.5, 0.1, 0.05)
    ]
    private_of = {name: auc(targets[~public], values[~public]) for name, values in shapes.items()}
    public_of = {name: auc(targets[public], values[public]) for name, values in shapes.items()}
    assert public_of["private_star"] < min(public_of["public_star"], public_of["middle"])

    # Nothing chosen: the best two public scores count.
    default = await stack.http.get(f"/v1/competitions/{cid}/final-submissions", headers=picker.auth)
    assert default.status_code == 200, default.text
    best_two = sorted(public_of, key=public_of.__getitem__, reverse=True)[:2]
    assert default.json()["default"] is True and default.json()["limit"] == 2
    assert set(default.json()["submission_ids"]) == {made[n]["id"] for n in best_two}

    async def private_score(user_id: str, expected: float) -> dict[str, Any] | None:
        got = await stack.board(cid, owner, split="private")
        assert got.status_code == 200, got.text
        row = next((e for e in got.json()["entries"] if e["user_id"] == user_id), None)
        return row if row is not None and math.isclose(row["score"], expected) else None

    await eventually(
        lambda: private_score(picker.user_id, max(private_of[n] for n in best_two)),
        timeout=30,
        message="default selection on the private board",
    )

    # Choosing the private star makes it count, alone.
    too_many = await stack.http.put(
        f"/v1/competitions/{cid}/final-submissions",
        json={"submission_ids": [m["id"] for m in made.values()]},
        headers=picker.auth,
    )
    assert too_many.status_code == 422 and too_many.json()["code"] == "TOO_MANY_FINAL_SUBMISSIONS"
    foreign = await stack.http.put(
        f"/v1/competitions/{cid}/final-submissions",
        json={"submission_ids": [idle_made[0]["id"]]},
        headers=picker.auth,
    )
    assert foreign.status_code == 422 and foreign.json()["code"] == "SUBMISSION_NOT_SELECTABLE"
    chosen = await stack.http.put(
        f"/v1/competitions/{cid}/final-submissions",
        json={"submission_ids": [made["private_star"]["id"]]},
        headers=picker.auth,
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["default"] is False
    assert chosen.json()["submission_ids"] == [made["private_star"]["id"]]

    # After the end the private board ranks by the best private score among the selected.
    ends_at = datetime.now(UTC) + timedelta(seconds=1)
    moved = await stack.http.patch(
        f"/v1/competitions/{cid}", json={"ends_at": ends_at.isoformat()}, headers=owner.auth
    )
    assert moved.status_code == 200, moved.text
    idle_private = [
        auc(targets[~public], (targets * w + noise * (1 - w))[~public]) for w in (0.5, 0.1, 0.05)
    ]
    idle_public = [
        auc(targets[public], (targets * w + noise * (1 - w))[public]) for w in (0.5, 0.1, 0.05)
    ]
    idle_best_two = sorted(range(3), key=lambda i: idle_public[i], reverse=True)[:2]
    expected = {
        picker.user_id: private_of["private_star"],
        idle.user_id: max(idle_private[i] for i in idle_best_two),
    }

    async def after_end() -> list[dict[str, Any]] | None:
        got = await stack.board(cid, picker, split="private")
        if got.status_code != 200:
            return None
        rows = got.json()["entries"]
        scores = {r["user_id"]: r["score"] for r in rows}
        ok = scores.keys() == expected.keys() and all(
            math.isclose(scores[u], s) for u, s in expected.items()
        )
        return rows if ok else None

    rows = await eventually(after_end, timeout=30, message="private board after the end")
    ordered = sorted(expected, key=expected.__getitem__, reverse=True)
    assert [r["user_id"] for r in rows] == ordered
    assert [r["rank"] for r in rows] == [1, 2]
    late = await stack.http.put(
        f"/v1/competitions/{cid}/final-submissions",
        json={"submission_ids": []},
        headers=picker.auth,
    )
    assert late.status_code == 409 and late.json()["code"] == "COMPETITION_ENDED"

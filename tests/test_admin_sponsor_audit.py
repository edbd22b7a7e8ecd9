"""Sponsor actions are audited once each, end to end (ADR 0037).

Identity, competitions, scoring and the gateway on real infrastructure: a
sponsor creates and changes a competition, uploads its answer key,
invalidates a submission and asks for a rescore; the audit log then holds one
entry per action with the sponsor as actor and only the changed fields, and
refused actions leave no entry.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD
from submissions_support.stack import (
    PredictionStack,
    answer_key,
    prediction_stack,
    predictions_csv,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """One running stack for the module."""
    async with prediction_stack(test_infra, tmp_path_factory.mktemp("sponsor-audit")) as running:
        yield running


async def test_each_sponsor_action_is_recorded_once_with_its_changes(
    stack: PredictionStack,
) -> None:
    owner, player, stranger = await stack.sign_up_many(3)
    admin = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    competition = await stack.prediction_competition(owner, title="Audited cup")
    cid = competition["id"]

    renamed = await stack.http.patch(
        f"/v1/competitions/{cid}", json={"title": "Audited cup 2"}, headers=owner.auth
    )
    assert renamed.status_code == 200, renamed.text
    refused = await stack.http.patch(
        f"/v1/competitions/{cid}", json={"title": "Hijacked"}, headers=stranger.auth
    )
    assert refused.status_code in (403, 404)

    key, ids, truth = answer_key()
    await stack.upload_key(cid, owner, key)
    await stack.join(cid, player)
    submitted = await stack.submit(cid, player, predictions_csv(ids, truth.astype(float)))
    assert submitted.status_code == 202, submitted.text
    submission_id = submitted.json()["id"]
    await stack.outcome(submission_id, player)
    invalidated = await stack.http.patch(
        f"/v1/competitions/{cid}/submissions/{submission_id}",
        json={"invalidated": True},
        headers=owner.auth,
    )
    assert invalidated.status_code == 202, invalidated.text
    rescored = await stack.http.post(f"/v1/competitions/{cid}/rescore", headers=owner.auth)
    assert rescored.status_code == 202, rescored.text

    async def entries(**params: Any) -> list[dict[str, Any]]:
        got = await stack.http.get("/v1/admin/audit", params=params, headers=admin)
        assert got.status_code == 200, got.text
        return got.json()["items"]  # type: ignore[no-any-return]

    about_competition = await entries(target_type="competition", target=cid)
    assert [e["action"] for e in about_competition] == [
        "competition.rescore_requested",
        "competition.answer_key_uploaded",
        "competition.updated",
        "competition.created",
    ]
    assert {e["actor_id"] for e in about_competition} == {owner.user_id}
    updated = about_competition[2]
    assert updated["before"] == {"title": "Audited cup"}
    assert updated["after"] == {"title": "Audited cup 2"}
    assert about_competition[1]["after"]["sha256"]
    assert about_competition[3]["after"]["title"] == "Audited cup"

    [invalidation] = await entries(target_type="submission", target=submission_id)
    assert invalidation["action"] == "submission.invalidated"
    assert invalidation["actor_id"] == owner.user_id
    assert invalidation["after"] == {"status": "invalidated", "competition_id": cid}
    assert await entries(actor=stranger.user_id) == []

    # Sponsors act on their own competitions; the log itself is for administrators.
    hidden = await stack.http.get("/v1/admin/audit", headers=owner.auth)
    assert hidden.status_code == 403
    unknown = await stack.http.post(f"/v1/competitions/{uuid.uuid4()}/rescore", headers=owner.auth)
    assert unknown.status_code == 404
    assert len(await entries(target_type="competition", target=cid)) == 4


# --- one test per sponsor action: recorded once, with the sponsor as actor ------------


async def _audit(
    stack: PredictionStack, cid: str, action: str | None = None
) -> list[dict[str, Any]]:
    """The admin's view of the entries (with this action) about the competition."""
    admin = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    params = {"competition": cid} | ({"action": action} if action else {})
    got = await stack.http.get("/v1/admin/audit", params=params, headers=admin)
    assert got.status_code == 200, got.text
    return got.json()["items"]  # type: ignore[no-any-return]


async def test_an_announcement_is_audited_once(stack: PredictionStack) -> None:
    owner, stranger = await stack.sign_up_many(2)
    cid = (await stack.prediction_competition(owner))["id"]
    body = {"subject": "Kick-off", "body": "Welcome, everyone."}
    refused = await stack.http.post(
        f"/v1/competitions/{cid}/announcements", json=body, headers=stranger.auth
    )
    assert refused.status_code == 403
    posted = await stack.http.post(
        f"/v1/competitions/{cid}/announcements", json=body, headers=owner.auth
    )
    assert posted.status_code == 202, posted.text
    [entry] = await _audit(stack, cid, "competition.announcement_posted")
    assert entry["actor_id"] == owner.user_id
    assert entry["after"] == {"announcement_id": posted.json()["id"], "subject": "Kick-off"}


async def test_a_participant_removal_is_audited_once(stack: PredictionStack) -> None:
    owner, player = await stack.sign_up_many(2)
    cid = (await stack.prediction_competition(owner))["id"]
    await stack.join(cid, player, timeout=30)
    path = f"/v1/competitions/{cid}/participants/{player.user_id}"
    assert (await stack.http.delete(path, headers=player.auth)).status_code in (403, 404)
    removed = await stack.http.delete(path, params={"ban": "true"}, headers=owner.auth)
    assert removed.status_code == 204, removed.text
    # Removing someone who is no longer there is refused and not recorded.
    assert (await stack.http.delete(path, headers=owner.auth)).status_code == 404
    [entry] = await _audit(stack, cid, "competition.participant_removed")
    assert entry["actor_id"] == owner.user_id
    assert entry["after"] == {"user_id": player.user_id, "banned": True}


async def test_an_enrollment_decision_is_audited_once(stack: PredictionStack) -> None:
    owner, player = await stack.sign_up_many(2)
    cid = (await stack.prediction_competition(owner, join_approval=True))["id"]
    asked = await stack.http.post(f"/v1/competitions/{cid}/join", headers=player.auth)
    assert asked.status_code == 202, asked.text

    async def pending() -> bool:
        got = await stack.http.get(
            f"/v1/competitions/{cid}/enrollments/pending", headers=owner.auth
        )
        return len(got.json()["items"]) == 1

    await eventually(pending, timeout=30, message="the join waits for the sponsor")
    decided = await stack.http.post(
        f"/v1/competitions/{cid}/enrollments/{player.user_id}/decision",
        json={"accept": False, "reason": "Not this time"},
        headers=owner.auth,
    )
    assert decided.status_code == 202, decided.text
    [entry] = await _audit(stack, cid, "competition.enrollment_decided")
    assert entry["actor_id"] == owner.user_id
    assert entry["after"] == {
        "user_id": player.user_id,
        "status": "rejected",
        "reason": "Not this time",
    }


async def test_data_file_uploads_and_deletions_are_audited_once(stack: PredictionStack) -> None:
    owner, stranger = await stack.sign_up_many(2)
    cid = (await stack.prediction_competition(owner))["id"]
    files = {"file": ("train.csv", b"id,x\n1,2\n", "text/csv")}
    refused = await stack.http.post(
        f"/v1/competitions/{cid}/files", files=files, headers=stranger.auth
    )
    assert refused.status_code == 403
    uploaded = await stack.http.post(
        f"/v1/competitions/{cid}/files", files=files, headers=owner.auth
    )
    assert uploaded.status_code == 201, uploaded.text
    deleted = await stack.http.delete(f"/v1/competitions/{cid}/files/train.csv", headers=owner.auth)
    assert deleted.status_code == 204, deleted.text
    [upload] = await _audit(stack, cid, "competition.file_uploaded")
    assert upload["actor_id"] == owner.user_id
    assert upload["after"] == {
        "name": "train.csv",
        "version": 1,
        "sha256": uploaded.json()["sha256"],
    }
    [deletion] = await _audit(stack, cid, "competition.file_deleted")
    assert deletion["actor_id"] == owner.user_id and deletion["after"] == {"name": "train.csv"}


async def test_an_invite_code_rotation_is_audited_once_without_the_code(
    stack: PredictionStack,
) -> None:
    owner, stranger = await stack.sign_up_many(2)
    made = await stack.prediction_competition(owner, visibility="private")
    cid = made["id"]
    url = f"/v1/competitions/{cid}/invite-code"
    assert (await stack.http.post(url, headers=stranger.auth)).status_code == 404
    rotated = await stack.http.post(url, headers=owner.auth)
    assert rotated.status_code == 200, rotated.text
    [entry] = await _audit(stack, cid, "competition.invite_code_rotated")
    assert entry["actor_id"] == owner.user_id
    recorded = str(entry)
    assert made["invite_code"] not in recorded and rotated.json()["invite_code"] not in recorded


async def test_a_rule_edit_is_audited_once_with_the_rules_before_and_after(
    stack: PredictionStack,
) -> None:
    owner = await stack.sign_up()
    completed = "http://adlnet.gov/expapi/verbs/completed"
    body = {
        "kind": "activity",
        "title": f"Rules {uuid.uuid4().hex[:6]}",
        "status": "active",
        "starts_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "ends_at": (datetime.now(UTC) + timedelta(days=9)).isoformat(),
        "rules": {"points": [{"verb": completed, "points": 5}]},
    }
    made = await stack.http.post("/v1/competitions", json=body, headers=owner.auth)
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    new_rules = {"points": [{"verb": completed, "points": 8}]}
    edited = await stack.http.patch(
        f"/v1/competitions/{cid}", json={"rules": new_rules}, headers=owner.auth
    )
    assert edited.status_code == 200, edited.text
    [entry] = await _audit(stack, cid, "competition.updated")
    assert entry["actor_id"] == owner.user_id
    assert set(entry["before"]) == set(entry["after"]) == {"rules"}
    assert entry["before"]["rules"]["points"][0]["points"] == 5
    assert entry["after"]["rules"]["points"][0]["points"] == 8


async def test_a_baseline_submission_is_audited_once(stack: PredictionStack) -> None:
    owner = await stack.sign_up()
    cid = (await stack.prediction_competition(owner))["id"]
    key, ids, truth = answer_key(seed=11)
    await stack.upload_key(cid, owner, key)
    sent = await stack.http.post(
        f"/v1/competitions/{cid}/baseline-submissions",
        files={"file": ("baseline.csv", predictions_csv(ids, truth * 0.5), "text/csv")},
        headers=owner.auth,
    )
    assert sent.status_code == 202, sent.text
    [entry] = await _audit(stack, cid, "competition.baseline_submitted")
    assert entry["actor_id"] == owner.user_id
    assert entry["after"]["submission_id"] == sent.json()["id"]


async def test_the_competition_filter_gathers_every_entry_about_a_competition(
    stack: PredictionStack,
) -> None:
    owner, player = await stack.sign_up_many(2)
    cid = (await stack.prediction_competition(owner))["id"]
    other = (await stack.prediction_competition(owner))["id"]
    key, ids, truth = answer_key(seed=13)
    await stack.upload_key(cid, owner, key)
    await stack.join(cid, player, timeout=30)
    sent = await stack.submit(cid, player, predictions_csv(ids, truth * 0.9))
    sid = sent.json()["id"]
    await stack.outcome(sid, player)
    invalidated = await stack.http.patch(
        f"/v1/competitions/{cid}/submissions/{sid}",
        json={"invalidated": True},
        headers=owner.auth,
    )
    assert invalidated.status_code == 202, invalidated.text
    actions = [e["action"] for e in await _audit(stack, cid)]
    assert actions == [
        "submission.invalidated",
        "competition.answer_key_uploaded",
        "competition.created",
    ]
    assert [e["action"] for e in await _audit(stack, other)] == ["competition.created"]

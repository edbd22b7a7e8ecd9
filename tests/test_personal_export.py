"""Personal-data export end to end across every service (SPEC §10.5, ADR 0058).

Identity, competitions, scoring, ingest, notifier, rewards and the gateway on
real infrastructure. Two learners each join an activity competition (learning
statements, points, wallet) and a prediction competition (a scored
submission); one asks for an export. The archive holds that learner's data
from every service and nothing of the other one; the learner is told in-app
and by e-mail; nobody else can see or download it, and a dead link is refused.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from ops_support.stack import OpsStack, completed, ops_stack
from platform_support.stack import User
from platform_support.windows import running_window
from submissions_support.stack import answer_key, predictions_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """Every service, rewards included, for the module."""
    async with ops_stack(
        test_infra, tmp_path_factory.mktemp("personal-export"), with_rewards=True
    ) as running:
        yield running


async def _prediction_competition(stack: OpsStack, owner: User) -> str:
    """An active AUC competition with its answer key loaded; return its id."""
    body = {
        "kind": "prediction",
        "metric": "auc_roc",
        "title": f"Export cup {uuid.uuid4().hex[:6]}",
        "status": "active",
        "late_join": True,
        **running_window(days=10),
    }
    made = await stack.http.post("/v1/competitions", json=body, headers=owner.auth)
    assert made.status_code == 201, made.text
    cid: str = made.json()["id"]
    key, _, _ = answer_key(rows=40)
    put = await stack.http.put(
        f"/v1/competitions/{cid}/answer-key",
        files={"file": ("key.csv", key, "text/csv")},
        headers=owner.auth,
    )
    assert put.status_code == 202, put.text

    async def loaded() -> bool:
        got = await stack.http.get(f"/v1/competitions/{cid}/answer-key", headers=owner.auth)
        return got.status_code == 200 and got.json().get("status") == "ready"

    await eventually(loaded, timeout=60, message="answer key loaded")
    return cid


async def _scored_submission(stack: OpsStack, cid: str, user: User) -> str:
    """Join, submit a prediction file and await its score; return the submission id."""
    await stack.join(cid, user)
    _, ids, truth = answer_key(rows=40)
    sent = await stack.http.post(
        f"/v1/competitions/{cid}/submissions",
        files={"file": ("p.csv", predictions_csv(ids, truth * 0.8), "text/csv")},
        headers=user.auth,
    )
    assert sent.status_code == 202, sent.text
    sid: str = sent.json()["id"]

    answers: list[str] = []

    async def scored() -> bool:
        got = await stack.http.get(f"/v1/submissions/{sid}", headers=user.auth)
        answers.append(f"{got.status_code} {got.text[:300]}")
        return got.status_code == 200 and got.json()["status"] == "scored"

    try:
        await eventually(scored, timeout=60, message="submission scored")
    except AssertionError as exc:  # say where the submission stopped
        raise AssertionError(f"{exc}; last answer: {answers[-1]}") from None
    return sid


async def _learn(stack: OpsStack, cid: str, user: User, lesson: str) -> str:
    """Post one completed lesson and await the points in the wallet; return the statement id."""
    [statement_id] = await stack.post_statements(completed(user, lesson))

    async def credited() -> bool:
        got = await stack.http.get("/v1/wallet", headers=user.auth)
        return got.status_code == 200 and got.json()["balance"] > 0

    await eventually(credited, timeout=60, message="points in the wallet")
    return statement_id


async def _ready(stack: OpsStack, export_id: str, user: User) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        got = await stack.http.get(f"/v1/users/me/export/{export_id}", headers=user.auth)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        assert body["status"] != "failed", body
        return body if body["status"] == "ready" else None

    return await eventually(done, timeout=60, message="export ready")


def _archive(answer: httpx.Response) -> dict[str, Any]:
    """Return every file of the zip, parsed."""
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


async def test_export_holds_the_callers_data_from_every_service_and_nobody_elses(
    stack: OpsStack,
) -> None:
    sponsor = await stack.sign_up("Export sponsor")
    learner = await stack.sign_up(f"Learner {uuid.uuid4().hex[:6]}")
    other = await stack.sign_up(f"Other {uuid.uuid4().hex[:6]}")
    activity = (await stack.activity_competition(sponsor))["id"]
    prediction = await _prediction_competition(stack, sponsor)
    for user in (learner, other):
        await stack.join(activity, user)
    learner_statement = await _learn(stack, activity, learner, "lesson-export-1")
    other_statement = await _learn(stack, activity, other, "lesson-export-2")
    learner_submission = await _scored_submission(stack, prediction, learner)
    other_submission = await _scored_submission(stack, prediction, other)

    asked = await stack.http.post("/v1/users/me/export", headers=learner.auth)
    assert asked.status_code == 202, asked.text
    export_id = asked.json()["id"]
    assert asked.headers["location"] == f"/v1/users/me/export/{export_id}"
    # Asking again while it is built (or ready) answers the same export.
    again = await stack.http.get("/v1/users/me/export", headers=learner.auth)
    assert again.status_code == 202 and again.json()["id"] == export_id

    ready = await _ready(stack, export_id, learner)
    assert ready["done"] == ready["total"] == 6
    assert ready["download_url"].startswith(f"/v1/users/me/export/{export_id}/archive?token=")
    assert datetime.fromisoformat(ready["expires_at"]) > datetime.now(UTC) + timedelta(hours=1)

    downloaded = await stack.http.get(ready["download_url"], headers=learner.auth)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"] == "application/zip"
    files = _archive(downloaded)

    # Every service's part is there, with the learner's own rows.
    manifest = files["manifest.json"]
    assert manifest["user_id"] == learner.user_id
    assert set(manifest["services"]) == {
        "identity", "competitions", "scoring", "ingest", "notifier", "rewards",
    }  # fmt: skip
    [account] = files["identity/account.json"]
    assert account["email"] == learner.email and account["display_name"] == learner.display_name
    assert "password_hash" not in account
    assert all("token_hash" not in row for row in files["identity/sessions.json"])
    enrolled = {row["competition_id"] for row in files["competitions/enrollments.json"]}
    assert enrolled == {activity, prediction}
    assert files["competitions/activity_points.json"], "activity points"
    [submission] = files["scoring/submissions.json"]
    assert submission["submission_id"] == learner_submission
    # The private split stays hidden until the end: no private score, no private rank.
    assert submission["public_score"] is not None and "private_score" not in submission
    assert all("private_score" not in row for row in files["competitions/scores.json"])
    assert {row["split"] for row in files["competitions/leaderboard_rows.json"]} == {"public"}
    assert learner_submission in {r["submission_id"] for r in files["competitions/scores.json"]}
    [statement] = files["ingest/statements.json"]
    assert statement["id"] == learner_statement
    assert statement["statement"]["actor"]["account"]["name"] == learner.user_id
    kinds = {row["notification_type"] for row in files["notifier/notifications.json"]}
    assert {"enrollment.accepted", "submission.scored"} <= kinds
    assert files["rewards/wallet.json"][0]["user_id"] == learner.user_id
    assert files["rewards/ledger.json"], "wallet ledger"

    # Nothing about the other learner, anywhere in the archive.
    everything = json.dumps(files)
    for trace in (
        other.user_id,
        other.email,
        other.display_name,
        other_statement,
        other_submission,
    ):
        assert trace not in everything, trace

    # The learner is told in-app and by e-mail.
    async def notified() -> bool:
        got = await stack.http.get("/v1/notifications", headers=learner.auth)
        return any(
            n["type"] == "account.data_export" and n["data"]["export_id"] == export_id
            for n in got.json()["items"]
        )

    await eventually(notified, timeout=30, message="in-app notification")

    async def mailed() -> list[dict[str, Any]] | None:
        got = await httpx.AsyncClient(base_url=stack.services["notifier"]).get(
            "/internal/dev/mails", params={"to": learner.email}
        )
        mails = [m for m in got.json() if "export" in m["subject"].lower()]
        return mails or None

    [mail] = await eventually(mailed, timeout=30, message="export e-mail")
    assert any(export_id in link for link in mail["links"])


async def test_only_the_owner_sees_and_downloads_an_export(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    owner, stranger = await stack.sign_up(), await stack.sign_up()
    asked = await stack.http.post("/v1/users/me/export", headers=owner.auth)
    assert asked.status_code == 202, asked.text
    export_id = asked.json()["id"]
    ready = await _ready(stack, export_id, owner)
    link = ready["download_url"]

    assert (await stack.http.post("/v1/users/me/export")).status_code == 401
    shown = await stack.http.get(f"/v1/users/me/export/{export_id}", headers=stranger.auth)
    assert shown.status_code == 404 and shown.json()["code"] == "NOT_FOUND"
    # Even with a live link, another account cannot download it; nor can nobody.
    stolen = await stack.http.get(link, headers=stranger.auth)
    assert stolen.status_code == 404, stolen.text
    assert (await stack.http.get(link)).status_code == 401
    # A link that was never issued (or has lapsed) is refused to the owner too.
    forged = await stack.http.get(
        f"/v1/users/me/export/{export_id}/archive",
        params={"token": "x" * 43},
        headers=owner.auth,
    )
    assert forged.status_code == 403 and forged.json()["code"] == "DOWNLOAD_LINK_EXPIRED"
    unknown = await stack.http.get(f"/v1/users/me/export/{uuid.uuid4()}", headers=owner.auth)
    assert unknown.status_code == 404
    # The stranger's own export is theirs alone: a different id.
    theirs = await stack.http.post("/v1/users/me/export", headers=stranger.auth)
    assert theirs.status_code == 202 and theirs.json()["id"] != export_id

    # Archives expire: once its time is up the blob is deleted and the export says so.
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        key = f"podium:exports:{export_id}"
        record = json.loads(await client.get(key))
        blob = stack_blob(stack, record["blob_key"])
        assert blob.exists()
        record["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        await client.set(key, json.dumps(record))
    finally:
        await client.aclose()
    expired = await stack.http.get(f"/v1/users/me/export/{export_id}", headers=owner.auth)
    assert expired.json()["status"] == "expired" and expired.json()["download_url"] is None
    assert not blob.exists()
    late = await stack.http.get(link, headers=owner.auth)
    assert late.status_code == 410 and late.json()["code"] == "EXPORT_EXPIRED"
    # Expired, the owner may ask for a new one.
    fresh = await stack.http.post("/v1/users/me/export", headers=owner.auth)
    assert fresh.status_code == 202 and fresh.json()["id"] != export_id


def stack_blob(stack: OpsStack, key: str) -> Path:
    """Where the local blob store of the stack keeps a blob."""
    return stack.blob_dir / key


async def test_erasing_an_account_deletes_its_exports(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    user = await stack.sign_up()
    asked = await stack.http.post("/v1/users/me/export", headers=user.auth)
    export_id = asked.json()["id"]
    await _ready(stack, export_id, user)
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        record = json.loads(await client.get(f"podium:exports:{export_id}"))
        blob = stack_blob(stack, record["blob_key"])
        assert blob.exists()
        erased = await stack.http.delete("/v1/users/me", headers=user.auth)
        assert erased.status_code == 202, erased.text
        assert not blob.exists()
        assert await client.get(f"podium:exports:{export_id}") is None
    finally:
        await client.aclose()

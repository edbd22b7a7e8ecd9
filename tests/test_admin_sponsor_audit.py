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
from pathlib import Path
from typing import Any

import pytest
from podium_runtime.testing import TestInfrastructure

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

"""Projection rebuilds end to end: a lost projection is rebuilt equal to the incremental one.

Prediction boards (competitions, from the scores) and ingest's flattened
statements (from the raw ones) are built incrementally by the consumers,
then damaged in Postgres and Redis, then rebuilt by an admin through
`POST /v1/admin/rebuilds` as a background job followed with
`GET /v1/admin/rebuilds/{job_id}`; the rebuilt projection equals the
incremental one row for row, also while events keep being consumed (SPEC §10.5).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
import redis.asyncio as redis
from podium_competitions import rebuilds
from podium_contracts.redis_keys import (
    leaderboard_entries_key,
    leaderboard_meta_key,
    leaderboard_ranks_key,
)
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD
from submissions_support.stack import (
    PredictionStack,
    answer_key,
    prediction_stack,
    predictions_csv,
)
from xapi_support.stack import LrsStack, lrs_stack, statement

pytestmark = pytest.mark.slow


async def finished(http: httpx.AsyncClient, auth: dict[str, str], job: dict[str, Any]) -> Any:
    """Await a rebuild's end through the gateway; return its final state."""
    seen: list[dict[str, Any]] = []

    async def done() -> dict[str, Any] | None:
        got = await http.get(f"/v1/admin/rebuilds/{job['id']}", headers=auth)
        assert got.status_code == 200, got.text
        seen.append(got.json())
        return got.json() if got.json()["status"] in ("succeeded", "failed") else None

    state = await eventually(done, timeout=60, message="the rebuild finishes")
    assert state["status"] == "succeeded", state
    assert state["done"] == state["total"]
    return state


def _pg(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="module")
async def boards(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """Identity, competitions, scoring and the gateway."""
    async with prediction_stack(test_infra, tmp_path_factory.mktemp("rebuilds")) as running:
        yield running


async def _board_rows(database_url: str, competition_id: str) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(_pg(database_url))
    try:
        rows = await connection.fetch(
            "SELECT split, user_id, rank, score, submission_id, submissions, last_submission_at"
            " FROM competitions.leaderboard_entries WHERE competition_id = $1"
            " ORDER BY split, rank, user_id",
            uuid.UUID(competition_id),
        )
    finally:
        await connection.close()
    return [tuple(r) for r in rows]


async def _api_board(stack: PredictionStack, competition_id: str, split: str) -> list[Any]:
    got = await stack.board(competition_id, split=split)
    assert got.status_code == 200, got.text
    return [{k: v for k, v in e.items() if k != "as_of"} for e in got.json()["entries"]]


async def test_prediction_boards_rebuilt_from_scores_equal_the_incremental_ones(
    boards: PredictionStack, test_infra: TestInfrastructure
) -> None:
    stack = boards
    owner, *players = await stack.sign_up_many(4)
    admin = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    key, ids, truth = answer_key()
    await stack.upload_key(cid, owner, key)
    rng = np.random.default_rng(7)
    for noise, player in zip((0.1, 0.4, 0.8), players, strict=True):
        await stack.join(cid, player)
        values = np.clip(truth + rng.normal(0, noise, len(truth)), 0, 1)
        sent = await stack.submit(cid, player, predictions_csv(ids, values))
        assert sent.status_code == 202, sent.text
        assert (await stack.outcome(sent.json()["id"], player))["status"] == "scored"

    async def full_board() -> list[Any] | None:
        board = await _api_board(stack, cid, "public")
        return board if len(board) == 3 else None

    incremental_api = await eventually(full_board, message="three on the board")
    incremental_rows = await _board_rows(test_infra.database_url, cid)
    assert len(incremental_rows) == 6  # public and private

    # Lose the projection: Postgres rows and the Redis mirror.
    connection = await asyncpg.connect(_pg(test_infra.database_url))
    try:
        await connection.execute(
            "DELETE FROM competitions.leaderboard_entries WHERE competition_id = $1",
            uuid.UUID(cid),
        )
    finally:
        await connection.close()
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        for split in ("public", "private"):
            await client.delete(
                leaderboard_ranks_key(uuid.UUID(cid), split),  # type: ignore[arg-type]
                leaderboard_entries_key(uuid.UUID(cid), split),  # type: ignore[arg-type]
                leaderboard_meta_key(uuid.UUID(cid), split),  # type: ignore[arg-type]
            )
    finally:
        await client.aclose()
    assert await _board_rows(test_infra.database_url, cid) == []

    refused = await stack.http.post(
        "/v1/admin/rebuilds", json={"target": "leaderboards"}, headers=owner.auth
    )
    assert refused.status_code == 403
    bad = await stack.http.post("/v1/admin/rebuilds", json={"target": "nope"}, headers=admin)
    assert bad.status_code == 422
    job = await stack.http.post(
        "/v1/admin/rebuilds", json={"target": "leaderboards", "competition_id": cid}, headers=admin
    )
    assert job.status_code == 202, job.text
    state = await finished(stack.http, admin, job.json())
    assert state["total"] == 1 and state["result"] == {"boards": 1}

    assert await _board_rows(test_infra.database_url, cid) == incremental_rows
    assert await _api_board(stack, cid, "public") == incremental_api
    [audited] = (
        await stack.http.get(
            "/v1/admin/audit",
            params={"action": "projection.rebuild_requested", "target": f"leaderboards:{cid}"},
            headers=admin,
        )
    ).json()["items"]
    assert audited["after"] == {"job_id": job.json()["id"]}


async def test_a_full_rebuild_while_consuming_matches_the_incremental_build(
    boards: PredictionStack, test_infra: TestInfrastructure
) -> None:
    stack = boards
    owner, early, late = await stack.sign_up_many(3)
    admin = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    key, ids, truth = answer_key(seed=3)
    await stack.upload_key(cid, owner, key)
    for player in (early, late):
        await stack.join(cid, player)
    first = await stack.submit(cid, early, predictions_csv(ids, np.full(len(truth), 0.5)))
    await stack.outcome(first.json()["id"], early)

    # A full rebuild races with the scoring of a new submission.
    second = await stack.submit(cid, late, predictions_csv(ids, truth.astype(float)))
    job = await stack.http.post(
        "/v1/admin/rebuilds", json={"target": "leaderboards"}, headers=admin
    )
    assert job.status_code == 202
    await stack.outcome(second.json()["id"], late)
    await finished(stack.http, admin, job.json())

    async def both_ranked() -> list[Any] | None:
        rows = await _board_rows(test_infra.database_url, cid)
        return rows if len(rows) == 4 else None

    after_race = await eventually(both_ranked, message="both ranked after the race")
    assert [r[1] for r in after_race if r[0] == "public"] == [
        uuid.UUID(late.user_id),
        uuid.UUID(early.user_id),
    ]
    # Rebuilding again from the same scores changes nothing: the two builds agree.
    again = await stack.http.post(
        "/v1/admin/rebuilds", json={"target": "leaderboards", "competition_id": cid}, headers=admin
    )
    await finished(stack.http, admin, again.json())
    assert await _board_rows(test_infra.database_url, cid) == after_race


async def test_integrity_finds_a_board_whose_mirror_differs_and_repairs_it(
    boards: PredictionStack, test_infra: TestInfrastructure, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = boards
    # One board per round (this module's other boards make several) and one line per
    # round trip: every round and every slice is read.
    monkeypatch.setattr(rebuilds, "INTEGRITY_ROUND_BOARDS", 1)
    monkeypatch.setattr(rebuilds, "INTEGRITY_SLICE_LINES", 1)
    owner, player = await stack.sign_up_many(2)
    admin = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    key, ids, truth = answer_key(seed=5)
    await stack.upload_key(cid, owner, key)
    await stack.join(cid, player)
    sent = await stack.submit(cid, player, predictions_csv(ids, truth.astype(float)))
    await stack.outcome(sent.json()["id"], player)

    async def mirror_checks() -> list[dict[str, Any]]:
        got = await stack.http.get("/v1/admin/integrity", headers=admin)
        assert got.status_code == 200, got.text
        [boards_check] = [c for c in got.json()["checks"] if c["name"] == "leaderboard_mirror"]
        return [p for p in boards_check["problems"] if p["competition_id"] == cid]

    async def consistent() -> bool:
        return await mirror_checks() == []

    await eventually(consistent, message="the board is mirrored")
    client = redis.from_url(test_infra.infra.redis_url)
    ranks_key = leaderboard_ranks_key(uuid.UUID(cid), "public")
    try:
        # As many lines, but somebody else's: found by reading the mirror, not by its size.
        [member] = await client.zrange(ranks_key, 0, -1)
        await client.zrem(ranks_key, member)
        await client.zadd(ranks_key, {str(uuid.uuid4()): 1})
        [problem] = await mirror_checks()
        assert problem["split"] == "public" and problem["postgres"] == problem["redis"] == 1
        await client.delete(ranks_key)
    finally:
        await client.aclose()
    [problem] = await mirror_checks()
    assert problem["split"] == "public" and problem["postgres"] == 1 and problem["redis"] == 0

    refused = await stack.http.get("/v1/admin/integrity", headers=owner.auth)
    assert refused.status_code == 403
    repaired = await stack.http.get("/v1/admin/integrity", params={"repair": "true"}, headers=admin)
    [boards_check] = [c for c in repaired.json()["checks"] if c["name"] == "leaderboard_mirror"]
    assert boards_check["repaired"] >= 1
    assert await mirror_checks() == []
    assert [e["user_id"] for e in await _api_board(stack, cid, "public")] == [player.user_id]


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    """Identity, ingest and the gateway."""
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("reflatten")) as stack:
        yield stack


FACTS = (
    "SELECT statement_id, actor_key, object_agent_key, user_id, verb_id, object_type,"
    " activity_id, target_id, registration, timestamp, stored, scaled_score, success,"
    " completion, duration_seconds, is_voiding, voided FROM ingest.statement_facts"
    " WHERE statement_id = ANY($1::uuid[]) ORDER BY statement_id"
)


async def test_flattened_statements_rebuilt_from_raw_equal_the_incremental_ones(
    lrs: LrsStack,
) -> None:
    actor = {"mbox": f"mailto:{uuid.uuid4().hex[:10]}@podium.test", "name": "Re Flatten"}
    sent = [
        statement(actor=actor, result={"score": {"scaled": 0.5}, "success": True}),
        statement(actor=actor, verb="http://adlnet.gov/expapi/verbs/attempted"),
        statement(actor=actor, result={"duration": "PT1M30S", "completion": True}),
    ]
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as client:
        posted = await client.post("/xapi/statements", json=sent)
        assert posted.status_code == 200, posted.text
        ids = [str(i) for i in posted.json()]
        voiding = statement(
            actor=actor,
            verb="http://adlnet.gov/expapi/verbs/voided",
            object={"objectType": "StatementRef", "id": ids[1]},
        )
        voided = await client.post("/xapi/statements", json=voiding)
        assert voided.status_code == 200, voided.text
        ids.append(voided.json()[0])

    connection = await asyncpg.connect(_pg(lrs.database_url))
    try:
        wanted = [uuid.UUID(i) for i in ids]

        async def flattened() -> list[Any] | None:
            rows = await connection.fetch(FACTS, wanted)
            return rows if len(rows) == 4 and any(r["voided"] for r in rows) else None

        incremental = [tuple(r) for r in await eventually(flattened, message="all flattened")]
        await connection.execute(
            "DELETE FROM ingest.statement_facts WHERE statement_id = ANY($1::uuid[])",
            [wanted[1], wanted[3]],
        )
        await connection.execute(
            "UPDATE ingest.statement_facts SET verb_id = 'broken' WHERE statement_id = $1",
            wanted[0],
        )
        async with httpx.AsyncClient(base_url=lrs.gateways[0]) as http:
            admin = {"Authorization": f"Bearer {lrs.admin_token}"}
            with_competition = await http.post(
                "/v1/admin/rebuilds",
                json={"target": "statements_flat", "competition_id": str(uuid.uuid4())},
                headers=admin,
            )
            assert with_competition.status_code == 422
            job = await http.post(
                "/v1/admin/rebuilds", json={"target": "statements_flat"}, headers=admin
            )
            assert job.status_code == 202, job.text
            state = await finished(http, admin, job.json())
        assert state["result"]["statements"] >= 4
        assert [tuple(r) for r in await connection.fetch(FACTS, wanted)] == incremental
    finally:
        await connection.close()

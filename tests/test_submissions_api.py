"""End-to-end submissions and leaderboards through the gateway (SPEC §5.3, §7.1, §7.2).

Identity, competitions, scoring and the gateway all run for real on Postgres,
Redis and the broker; scores are checked against scikit-learn.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import redis.asyncio as redis
from platform_support.stack import User
from podium_contracts.redis_keys import (
    competition_card_key,
    daily_submissions_key,
    tokens_revoked_before_key,
    utc_day,
)
from podium_runtime.testing import TestInfrastructure, eventually
from sklearn.metrics import roc_auc_score
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
    async with prediction_stack(test_infra, tmp_path_factory.mktemp("submissions")) as running:
        yield running


@dataclass
class Arena:
    """A prediction competition with its key, owner and three enrolled participants."""

    competition: dict[str, Any]
    owner: User
    players: list[User]
    ids: np.ndarray
    targets: np.ndarray

    @property
    def id(self) -> str:
        """The competition id."""
        return str(self.competition["id"])


async def new_arena(stack: PredictionStack, seed: int) -> Arena:
    """Open a sponsor's AUC competition with an answer key; three participants join."""
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    csv, ids, targets = answer_key(seed=seed)
    loaded = await stack.upload_key(competition["id"], owner, csv)
    assert loaded["status"] == "ready" and loaded["rows"] == len(ids)
    players = [await stack.sign_up(name) for name in ("Ada", "Grace", "Edsger")]
    for player in players:
        assert (await stack.join(competition["id"], player))["status"] == "accepted"
    return Arena(competition, owner, players, ids, targets)


@pytest.fixture(scope="module")
async def arena(stack: PredictionStack) -> Arena:
    """The module's shared competition, scored by the tests that use it."""
    return await new_arena(stack, seed=7)


@dataclass
class Limited:
    """A competition with a daily limit, one enrolled participant and a file that scores."""

    competition: dict[str, Any]
    player: User
    good: bytes


async def limited(stack: PredictionStack, limit: int, seed: int) -> Limited:
    """Open a competition of `limit` submissions a day (60 rows); one participant joins."""
    owner, player = await stack.sign_up(), await stack.sign_up()
    competition = await stack.prediction_competition(owner, daily_submission_limit=limit)
    csv, ids, targets = answer_key(seed=seed, rows=60)
    await stack.upload_key(competition["id"], owner, csv)
    await stack.join(competition["id"], player)
    return Limited(competition, player, predictions_csv(ids, targets * 0.7 + 0.1))


def expected_auc(arena: Arena, predictions: np.ndarray) -> tuple[float, float]:
    """Public and private AUC as scikit-learn computes them."""
    public = is_public(arena.id, arena.ids, arena.competition["public_fraction"])
    rounded = np.round(predictions, 6)
    return (
        float(roc_auc_score(arena.targets[public], rounded[public])),
        float(roc_auc_score(arena.targets[~public], rounded[~public])),
    )


async def board_ids(stack: PredictionStack, competition_id: str, **params: Any) -> list[str]:
    """Return the user ids of a board in rank order (anonymous read)."""
    got = await stack.board(competition_id, **params)
    assert got.status_code == 200, got.text
    return [entry["user_id"] for entry in got.json()["entries"]]


async def test_scores_agree_with_scikit_learn_and_the_board_breaks_ties_by_time(
    stack: PredictionStack, arena: Arena
) -> None:
    ada, grace, edsger = arena.players
    rng = np.random.default_rng(11)
    strong = arena.targets * 0.6 + rng.random(len(arena.ids)) * 0.5
    weak = arena.targets * 0.2 + rng.random(len(arena.ids))

    first = await stack.submit(arena.id, ada, predictions_csv(arena.ids, strong))
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "queued"
    # Right after the 202 the author already sees it (queued or judged), never a 404.
    seen = await stack.http.get(f"/v1/submissions/{first.json()['id']}", headers=ada.auth)
    assert seen.status_code == 200 and seen.json()["status"] in ("queued", "scored")
    ada_scored = await stack.outcome(first.json()["id"], ada)

    # The same file later: the same score, ranked after Ada (earlier submission wins).
    tie = await stack.submit(arena.id, edsger, predictions_csv(arena.ids, strong))
    low = await stack.submit(arena.id, grace, predictions_csv(arena.ids, weak))
    edsger_scored = await stack.outcome(tie.json()["id"], edsger)
    grace_scored = await stack.outcome(low.json()["id"], grace)

    strong_public, _ = expected_auc(arena, strong)
    weak_public, _ = expected_auc(arena, weak)
    for judged, expected in ((ada_scored, strong_public), (grace_scored, weak_public)):
        assert judged["status"] == "scored" and judged["errors"] == []
        assert math.isclose(judged["public_score"], expected, rel_tol=1e-9)
        # Private scores stay hidden from participants until the end (SPEC §5.3).
        assert judged["private_score"] is None
    assert edsger_scored["public_score"] == ada_scored["public_score"]

    expected_order = [ada.user_id, edsger.user_id, grace.user_id]

    async def ranked() -> list[str] | None:
        ids = await board_ids(stack, arena.id)
        return ids if ids == expected_order else None

    await eventually(ranked, message="board in score order")
    got = (await stack.board(arena.id)).json()
    assert [e["rank"] for e in got["entries"]] == [1, 2, 3]
    assert got["total"] == 3 and got["as_of"] is not None
    assert [e["display_name"] for e in got["entries"]] == ["Ada", "Edsger", "Grace"]
    assert got["entries"][0]["score"] == ada_scored["public_score"]
    assert got["entries"][0]["submissions"] == 1

    # Paging and around-me read the same board.
    page = (await stack.board(arena.id, limit=2)).json()
    assert [e["rank"] for e in page["entries"]] == [1, 2] and page["next_cursor"]
    rest = (await stack.board(arena.id, limit=2, cursor=page["next_cursor"])).json()
    assert [e["rank"] for e in rest["entries"]] == [3] and rest["next_cursor"] is None
    around = await stack.http.get(
        f"/v1/competitions/{arena.id}/leaderboard/around-me",
        params={"window": 1},
        headers=grace.auth,
    )
    assert around.status_code == 200, around.text
    assert around.json()["rank"] == 3
    assert [e["rank"] for e in around.json()["entries"]] == [2, 3]

    # The viewer block of the competition shows the participant's standing.
    details = await stack.http.get(f"/v1/competitions/{arena.id}", headers=edsger.auth)
    assert details.json()["viewer"]["rank"] == 2
    assert details.json()["viewer"]["best_score"] == ada_scored["public_score"]

    # Other people's submissions do not exist for them; the sponsor may read them.
    stranger = await stack.http.get(f"/v1/submissions/{first.json()['id']}", headers=grace.auth)
    assert stranger.status_code == 404 and stranger.json()["code"] == "SUBMISSION_NOT_FOUND"
    sponsor_view = await stack.http.get(
        f"/v1/submissions/{first.json()['id']}", headers=arena.owner.auth
    )
    assert sponsor_view.status_code == 200 and sponsor_view.json()["private_score"] is not None
    mine = await stack.http.get(f"/v1/competitions/{arena.id}/submissions", headers=ada.auth)
    assert [s["id"] for s in mine.json()["items"]] == [first.json()["id"]]


async def test_a_bad_file_is_rejected_with_every_error(
    stack: PredictionStack, arena: Arena
) -> None:
    grace = arena.players[1]
    lines = ["id,target"]
    lines += [f"{i},0.5" for i in arena.ids[10:]]  # the first ten ids are missing
    lines += [f"{arena.ids[20]},0.4", "nobody,0.2"]  # a duplicate and an unknown id
    lines[60] = f"{arena.ids[69]},abc"  # not a number
    made = await stack.submit(arena.id, grace, "\n".join(lines).encode())
    assert made.status_code == 202, made.text

    judged = await stack.outcome(made.json()["id"], grace)
    assert judged["status"] == "rejected"
    assert judged["public_score"] is None
    codes = {error["code"] for error in judged["errors"]}
    assert {
        "MISSING_IDS",
        "UNKNOWN_IDS",
        "DUPLICATE_ID",
        "NOT_A_NUMBER",
    } <= codes
    assert all(error["message"] for error in judged["errors"])


async def test_the_sixth_submission_of_the_day_is_refused_and_rejections_give_slots_back(
    stack: PredictionStack,
) -> None:
    arena = await limited(stack, limit=5, seed=5)
    competition, player, good = arena.competition, arena.player, arena.good
    made = [await stack.submit(competition["id"], player, good) for _ in range(4)]
    bad = await stack.submit(competition["id"], player, b"id,target\nnobody,0.5\n")
    assert [m.status_code for m in [*made, bad]] == [202] * 5

    # Before the bad one is judged the day may be full; once it is rejected its slot is back.
    assert (await stack.outcome(bad.json()["id"], player))["status"] == "rejected"

    # The slot returns when competitions consumes `submission.rejected`; a refused
    # attempt uses nothing, so asking again until it is accepted is harmless.
    answers = [m.json()["id"] for m in [*made, bad]]

    async def accepted() -> bool:
        again = await stack.submit(competition["id"], player, good)
        if again.status_code == 202:
            answers.append(again.json()["id"])
        return again.status_code == 202

    await eventually(accepted, message="the rejected submission's slot given back")

    refused = await stack.submit(competition["id"], player, good)
    assert refused.status_code == 429
    problem = refused.json()
    assert problem["code"] == "RATE_LIMIT_EXCEEDED"
    assert problem["limit"] == 5 and problem["used"] == 5
    resets_at = datetime.fromisoformat(problem["resets_at"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert resets_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    details = await stack.http.get(f"/v1/competitions/{competition['id']}", headers=player.auth)
    assert details.json()["viewer"]["submissions_today"] == 5
    assert details.json()["viewer"]["submissions_limit"] == 5
    # The file of a refused upload is written while its slot is sought, then removed:
    # the store holds the accepted ones only.
    assert stack.blob_dir is not None
    stored = stack.blob_dir / "submissions" / competition["id"]
    assert sorted(path.stem for path in stored.glob("*.csv")) == sorted(answers)
    assert not [path for path in stored.iterdir() if path.name.startswith(".tmp-")]


async def test_idempotency_key_gives_the_same_submission(
    stack: PredictionStack, arena: Arena
) -> None:
    edsger = arena.players[2]
    csv = predictions_csv(arena.ids, np.linspace(0.0, 1.0, len(arena.ids)))
    key = f"upload-{uuid.uuid4()}"
    first = await stack.submit(arena.id, edsger, csv, **{"Idempotency-Key": key})
    again = await stack.submit(arena.id, edsger, csv, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = await stack.submit(arena.id, edsger, csv + b"\n", **{"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    await stack.outcome(first.json()["id"], edsger)


async def test_who_may_submit(stack: PredictionStack, arena: Arena) -> None:
    outsider = await stack.sign_up()
    csv = predictions_csv(arena.ids, arena.targets * 0.5)
    refused = await stack.submit(arena.id, outsider, csv)
    assert refused.status_code == 403 and refused.json()["code"] == "NOT_ENROLLED"
    by_owner = await stack.submit(arena.id, arena.owner, csv)
    assert by_owner.status_code == 403 and by_owner.json()["code"] == "NOT_ENROLLED"
    huge = await stack.submit(arena.id, arena.players[0], b"id,target\n" + b"x,0.5\n" * 40_000)
    assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    unknown = await stack.submit(str(uuid.uuid4()), arena.players[0], csv)
    assert unknown.status_code == 404
    draft = await stack.create(arena.owner, status="draft")
    not_active = await stack.submit(draft["id"], arena.players[0], csv)
    assert not_active.status_code in (403, 404, 409)
    invalid = await stack.http.patch(
        f"/v1/competitions/{arena.id}/submissions/{uuid.uuid4()}",
        json={"invalidated": True},
        headers=arena.players[0].auth,
    )
    assert invalid.status_code == 403 and invalid.json()["code"] == "NOT_OWNER"


async def test_an_upload_is_judged_from_the_card_until_the_competition_has_a_team(
    stack: PredictionStack, store: redis.Redis
) -> None:
    owner, ada, bob = await stack.sign_up(), await stack.sign_up("Ada"), await stack.sign_up("Bob")
    competition = await stack.prediction_competition(owner, daily_submission_limit=10)
    cid = competition["id"]
    csv, ids, targets = answer_key(seed=11)
    await stack.upload_key(cid, owner, csv)
    for player in (ada, bob):
        assert (await stack.join(cid, player))["status"] == "accepted"
    key = competition_card_key(uuid.UUID(cid))

    async def card(teams: bool) -> dict[str, Any] | None:
        raw = await store.get(key)
        found = json.loads(raw) if raw else None
        return found if found is not None and found.get("teams") is teams else None

    written = await eventually(lambda: card(False), timeout=10, message="card without teams")
    upload = predictions_csv(ids, targets * 0.5)
    # A participant's upload is judged from the card: a marked copy shows through ...
    await store.set(key, json.dumps({**written, "status": "ended"}))
    refused = await stack.submit(cid, ada, upload)
    assert refused.status_code == 409 and refused.json()["code"] == "COMPETITION_NOT_ACTIVE"
    # ... unless the card does not say whether there are teams: competitions answers then.
    await store.set(key, json.dumps({**written, "status": "ended", "teams": None}))
    asked = await stack.submit(cid, ada, upload)
    assert asked.status_code == 202, asked.text
    await store.set(key, json.dumps(written))

    # A new team hides the card before its answer; the card comes back saying so, and
    # uploads go to competitions (whom they count for is the team's business).
    made = await stack.http.post(
        f"/v1/competitions/{cid}/teams", json={"name": "Lovelace"}, headers=ada.auth
    )
    assert made.status_code == 201, made.text
    assert await card(False) is None
    rewritten = await eventually(lambda: card(True), timeout=10, message="card with teams")
    await store.set(key, json.dumps({**rewritten, "status": "ended"}))
    accepted = await stack.submit(cid, bob, upload)
    assert accepted.status_code == 202, accepted.text


async def test_ended_competition_refuses_submissions(stack: PredictionStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    competition = await stack.prediction_competition(owner)
    await stack.join(competition["id"], player)
    ended = await stack.http.patch(
        f"/v1/competitions/{competition['id']}", json={"status": "ended"}, headers=owner.auth
    )
    assert ended.status_code == 200, ended.text
    refused = await stack.submit(competition["id"], player, b"id,target\nx,0.5\n")
    assert refused.status_code == 409 and refused.json()["code"] == "COMPETITION_NOT_ACTIVE"


async def test_invalidating_the_leader_reorders_the_board_and_the_private_board_appears_at_the_end(
    stack: PredictionStack,
) -> None:
    # Its own competition: the test invalidates the leader and ends the competition.
    arena = await new_arena(stack, seed=8)
    ada, grace, edsger = arena.players
    rng = np.random.default_rng(8)
    made = {}
    for player, signal in ((ada, 0.6), (edsger, 0.4), (grace, 0.2)):
        values = arena.targets * signal + rng.random(len(arena.ids)) * 0.5
        upload = await stack.submit(arena.id, player, predictions_csv(arena.ids, values))
        assert upload.status_code == 202, upload.text
        made[player.user_id] = upload.json()["id"]
    for player in arena.players:
        assert (await stack.outcome(made[player.user_id], player))["status"] == "scored"

    async def ranked() -> list[str] | None:
        ids = await board_ids(stack, arena.id)
        return ids if len(ids) == 3 else None

    before = await eventually(ranked, message="the three players on the board")
    assert before == [ada.user_id, edsger.user_id, grace.user_id]
    leader_submission = made[ada.user_id]
    private_early = await stack.board(arena.id, split="private")
    assert private_early.status_code == 403
    assert private_early.json()["code"] == "PRIVATE_LEADERBOARD_HIDDEN"

    invalidated = await stack.http.patch(
        f"/v1/competitions/{arena.id}/submissions/{leader_submission}",
        json={"invalidated": True},
        headers=arena.owner.auth,
    )
    assert invalidated.status_code == 202, invalidated.text

    async def reordered() -> list[str] | None:
        ids = await board_ids(stack, arena.id)
        return ids if ada.user_id not in ids else None

    after = await eventually(reordered, message="board without the invalidated leader")
    assert after == [edsger.user_id, grace.user_id]

    # Scoring records the invalidation from the same event as the board, on its own time.
    async def shown_invalidated() -> bool:
        return (await stack.outcome(leader_submission, ada))["status"] == "invalidated"

    await eventually(shown_invalidated, message="submission shown invalidated")

    # Move the end a moment ahead and await the private board.
    ends_at = datetime.now(UTC) + timedelta(seconds=1)
    moved = await stack.http.patch(
        f"/v1/competitions/{arena.id}",
        json={"ends_at": ends_at.isoformat()},
        headers=arena.owner.auth,
    )
    assert moved.status_code == 200, moved.text

    async def private_board() -> dict[str, Any] | None:
        got = await stack.board(arena.id, split="private")
        return got.json() if got.status_code == 200 else None

    board = await eventually(private_board, message="private board after the end")
    assert [e["rank"] for e in board["entries"]] == list(range(1, len(board["entries"]) + 1))
    assert {e["user_id"] for e in board["entries"]} == set(after)
    grace_mine = await stack.http.get(
        f"/v1/competitions/{arena.id}/submissions", headers=grace.auth
    )
    scored = [s for s in grace_mine.json()["items"] if s["status"] == "scored"]
    assert scored and all(s["private_score"] is not None for s in scored)


async def test_the_daily_limit_survives_the_loss_of_its_redis_count(
    stack: PredictionStack, test_infra: TestInfrastructure
) -> None:
    """Regression: a Redis flush reset every daily limit; scoring's records restore it."""
    arena = await limited(stack, limit=2, seed=6)
    competition, player, good = arena.competition, arena.player, arena.good
    made = [await stack.submit(competition["id"], player, good) for _ in range(2)]
    assert [m.status_code for m in made] == [202, 202]
    for submission in made:
        assert (await stack.outcome(submission.json()["id"], player))["status"] == "scored"

    day = utc_day(datetime.now(UTC))
    key = daily_submissions_key(uuid.UUID(competition["id"]), uuid.UUID(player.user_id), day)
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        assert await client.delete(key) == 1  # the count is lost, as in a flush
    finally:
        await client.aclose()
    refused = await stack.submit(competition["id"], player, good)
    assert refused.status_code == 429, refused.text
    assert refused.json()["used"] == 2


async def test_a_refused_uploader_takes_no_slot_and_leaves_no_file(
    stack: PredictionStack, test_infra: TestInfrastructure
) -> None:
    """The caller's checks are made in the upload's first read: a refusal records nothing."""
    arena = await limited(stack, limit=3, seed=8)
    competition, player, good = arena.competition, arena.player, arena.good
    first = await stack.submit(competition["id"], player, good)
    assert first.status_code == 202, first.text
    day = utc_day(datetime.now(UTC))
    slots = daily_submissions_key(uuid.UUID(competition["id"]), uuid.UUID(player.user_id), day)
    store = redis.from_url(test_infra.infra.redis_url)
    try:
        limits = [key async for key in store.scan_iter(match=f"*rl:user:{player.user_id}")]
        assert len(limits) == 1, limits
        await store.set(limits[0], 1_000_000, keepttl=True)
        refused = await stack.submit(competition["id"], player, good)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "RATE_LIMIT_EXCEEDED"
        await store.delete(limits[0])

        revoked = tokens_revoked_before_key(uuid.UUID(player.user_id))
        await store.set(revoked, str(datetime.now(UTC).timestamp() + 60), ex=120)
        try:
            refused = await stack.submit(competition["id"], player, good)
            assert refused.status_code == 401, refused.text
            assert refused.json()["code"] == "TOKEN_REVOKED"
        finally:
            await store.delete(revoked)
        assert await store.smembers(slots) == {first.json()["id"].encode()}
        pattern = f"*submissions-queued:{competition['id']}:{player.user_id}"
        queued = [key async for key in store.scan_iter(match=pattern)]
        assert len(queued) == 1, queued
        assert await store.zrange(queued[0], 0, -1) == [first.json()["id"].encode()]
    finally:
        await store.aclose()
    assert stack.blob_dir is not None
    stored = stack.blob_dir / "submissions" / competition["id"]
    assert [path.stem for path in stored.iterdir()] == [first.json()["id"]]


async def _next_change(lines: AsyncIterator[str]) -> dict[str, Any]:
    """Return the data of the next `leaderboard.changed` event of an SSE stream."""
    async for line in lines:
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))  # type: ignore[no-any-return]
    raise AssertionError("the stream ended")


async def test_an_anonymous_board_stream_is_told_of_each_new_version(
    stack: PredictionStack,
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    csv, ids, targets = answer_key(seed=11)
    await stack.upload_key(competition["id"], owner, csv)
    player = await stack.sign_up("Barbara")
    assert (await stack.join(competition["id"], player))["status"] == "accepted"
    url = f"/v1/competitions/{competition['id']}/leaderboard/stream"
    async with stack.http.stream("GET", url, timeout=None) as response:
        assert response.status_code == 200
        lines = response.aiter_lines()
        versions = []
        for values in (targets * 0.5, targets * 0.9 + 0.05):
            made = await stack.submit(competition["id"], player, predictions_csv(ids, values))
            assert made.status_code == 202, made.text
            async with asyncio.timeout(30):
                change = await _next_change(lines)
            board = (await stack.board(competition["id"])).json()
            assert change["total"] == 1
            assert [e["submissions"] for e in board["entries"]] == [len(versions) + 1]
            versions.append(datetime.fromisoformat(change["as_of"]))
    assert versions[0] < versions[1]

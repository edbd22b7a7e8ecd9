"""End-to-end sponsor tools through the gateway: stats, announcements, removal (SPEC §10.2).

Identity, competitions, scoring, the notifier (with its dev mail sink) and the
gateway run for real on Postgres, Redis and the broker.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from podium_runtime.db import Database
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.stack import User
from submissions_support.stack import PredictionStack, prediction_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """One running stack with the notifier for the whole module."""
    tmp = tmp_path_factory.mktemp("sponsor")
    async with prediction_stack(test_infra, tmp, with_notifier=True) as running:
        yield running


async def seed_scores(
    test_infra: TestInfrastructure,
    competition_id: str,
    rows: list[tuple[uuid.UUID, float, datetime]],
) -> None:
    """Store scored submissions straight through the leaderboard projection, then rank them."""
    from podium_competitions.boards import BoardWriter
    from podium_competitions.leaderboard import repository
    from podium_competitions.leaderboard.mirror import LeaderboardMirror
    from podium_competitions.leaderboard.service import recompute_board

    cid = uuid.UUID(competition_id)
    database = Database(test_infra.database_url)
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        async with database.session() as session:
            await repository.lock_and_upsert_scored(
                session,
                [
                    {
                        "submission_id": uuid.uuid4(),
                        "competition_id": cid,
                        "user_id": user_id,
                        "higher_is_better": True,
                        "public_score": score,
                        "private_score": score,
                        "submitted_at": at,
                        "scored_at": at,
                    }
                    for user_id, score, at in rows
                ],
            )
            writer = BoardWriter(client)
            await recompute_board(session, None, LeaderboardMirror(writer), cid)
        await writer.flush()  # the mirror is written once the transaction committed
    finally:
        await client.aclose()
        await database.dispose()


async def test_stats_count_submissions_per_day_and_bucket_best_scores(
    stack: PredictionStack, test_infra: TestInfrastructure
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    users = [uuid.uuid4() for _ in range(4)]
    day = datetime(2026, 3, 2, 12, tzinfo=UTC)
    # Day 1: three submissions, day 2: none, day 3: two. Best scores 0.1, 0.4, 0.9, 1.0.
    seeded = [
        (users[0], 0.05, day),
        (users[0], 0.1, day + timedelta(hours=1)),
        (users[1], 0.4, day + timedelta(hours=2)),
        (users[2], 0.9, day + timedelta(days=2)),
        (users[3], 1.0, day + timedelta(days=2, hours=11, minutes=59)),
    ]
    await seed_scores(test_infra, competition["id"], seeded)
    got = await stack.http.get(f"/v1/competitions/{competition['id']}/stats", headers=owner.auth)
    assert got.status_code == 200, got.text
    stats = got.json()
    assert stats["submissions_per_day"] == [
        {"date": "2026-03-02", "submissions": 3},
        {"date": "2026-03-04", "submissions": 2},
    ]
    buckets = stats["score_distribution"]
    assert len(buckets) == 10
    assert buckets[0]["low"] == pytest.approx(0.1) and buckets[-1]["high"] == pytest.approx(1.0)
    # Width 0.09: 0.1 -> bucket 0, 0.4 -> 3, 0.9 -> 8, 1.0 -> the last.
    assert [b["count"] for b in buckets] == [1, 0, 0, 1, 0, 0, 0, 0, 1, 1]
    stranger = await stack.sign_up()
    hidden = await stack.http.get(
        f"/v1/competitions/{competition['id']}/stats", headers=stranger.auth
    )
    assert hidden.status_code == 403


async def inbox(stack: PredictionStack, user: User) -> list[dict[str, Any]]:
    """Return the user's notifications."""
    got = await stack.http.get("/v1/notifications", headers=user.auth)
    assert got.status_code == 200, got.text
    return got.json()["items"]  # type: ignore[no-any-return]


async def test_an_announcement_reaches_every_participant_once(stack: PredictionStack) -> None:
    from podium_notifier.devsink import read_mails

    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    players = await stack.sign_up_many(3)
    outsider = await stack.sign_up()
    for player in players:
        assert (await stack.join(cid, player))["status"] == "accepted"

    # The notifier knows them as participants once their acceptance reached it.
    async def accepted_everywhere() -> bool:
        for player in players:
            kinds = {n["type"] for n in await inbox(stack, player)}
            if "enrollment.accepted" not in kinds:
                return False
        return True

    await eventually(accepted_everywhere, timeout=30, message="acceptances notified")
    refused = await stack.http.post(
        f"/v1/competitions/{cid}/announcements",
        json={"subject": "Hi", "body": "x"},
        headers=players[0].auth,
    )
    assert refused.status_code == 403
    posted = await stack.http.post(
        f"/v1/competitions/{cid}/announcements",
        json={"subject": "New data", "body": "The test set was refreshed."},
        headers=owner.auth,
    )
    assert posted.status_code == 202, posted.text

    def announcements(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [n for n in items if n["type"] == "competition.announcement"]

    async def delivered() -> bool:
        for player in players:
            if not announcements(await inbox(stack, player)):
                return False
            if not any(
                "New data" in m["subject"] for m in read_mails(stack.mail_dir, player.email)
            ):
                return False
        return True

    await eventually(delivered, timeout=30, message="announcement in-app and by e-mail")
    for player in players:
        [notice] = announcements(await inbox(stack, player))
        assert notice["body"] == "The test set was refreshed."
        mails = [m for m in read_mails(stack.mail_dir, player.email) if "New data" in m["subject"]]
        assert len(mails) == 1
    assert announcements(await inbox(stack, outsider)) == []
    assert stack.mail_dir is not None
    assert not any("New data" in m["subject"] for m in read_mails(stack.mail_dir, outsider.email))


async def test_removal_with_a_ban_blocks_rejoining(stack: PredictionStack) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    kept, banned = await stack.sign_up(), await stack.sign_up()
    for player in (kept, banned):
        assert (await stack.join(cid, player))["status"] == "accepted"

    not_owner = await stack.http.delete(
        f"/v1/competitions/{cid}/participants/{banned.user_id}", headers=kept.auth
    )
    assert not_owner.status_code == 403
    # Removal without a ban: the participant may come back.
    removed = await stack.http.delete(
        f"/v1/competitions/{cid}/participants/{kept.user_id}", headers=owner.auth
    )
    assert removed.status_code == 204, removed.text
    assert (await stack.enrollment(cid, kept))["status"] == "left"
    assert (await stack.join(cid, kept))["status"] == "accepted"

    banned_out = await stack.http.delete(
        f"/v1/competitions/{cid}/participants/{banned.user_id}",
        params={"ban": "true"},
        headers=owner.auth,
    )
    assert banned_out.status_code == 204, banned_out.text
    details = await stack.http.get(f"/v1/competitions/{cid}", headers=owner.auth)
    assert details.json()["participants"] == 1
    again = await stack.join(cid, banned)
    assert (again["status"], again["reason"]) == ("rejected", "BANNED")
    roster = await stack.http.get(f"/v1/competitions/{cid}/participants", headers=owner.auth)
    assert [p["user_id"] for p in roster.json()["items"]] == [kept.user_id]
    gone = await stack.http.delete(
        f"/v1/competitions/{cid}/participants/{uuid.uuid4()}", headers=owner.auth
    )
    assert gone.status_code == 404 and gone.json()["code"] == "NOT_ENROLLED"


async def test_with_approval_on_joins_wait_for_the_sponsor(stack: PredictionStack) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner, join_approval=True, max_participants=1)
    cid = competition["id"]
    assert competition["join_approval"] is True
    first, second, third = (
        await stack.sign_up("First"),
        await stack.sign_up(),
        await stack.sign_up(),
    )
    for player in (first, second, third):
        asked = await stack.http.post(f"/v1/competitions/{cid}/join", headers=player.auth)
        assert asked.status_code == 202, asked.text

    # The service decided "pending": the owner sees the three requests waiting.
    async def waiting() -> list[dict[str, Any]] | None:
        got = await stack.http.get(
            f"/v1/competitions/{cid}/enrollments/pending", headers=owner.auth
        )
        assert got.status_code == 200, got.text
        items = got.json()["items"]
        return items if len(items) == 3 else None

    listed = await eventually(waiting, timeout=30, message="three pending joins")
    assert {p["user_id"] for p in listed} == {first.user_id, second.user_id, third.user_id}
    for player in (first, second, third):
        assert (await stack.enrollment(cid, player))["status"] == "pending"
    not_owner = await stack.http.post(
        f"/v1/competitions/{cid}/enrollments/{second.user_id}/decision",
        json={"accept": True},
        headers=first.auth,
    )
    assert not_owner.status_code == 403

    accepted = await stack.http.post(
        f"/v1/competitions/{cid}/enrollments/{first.user_id}/decision",
        json={"accept": True},
        headers=owner.auth,
    )
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    assert (await stack.enrollment(cid, first))["status"] == "accepted"
    # The one seat is taken: accepting another is refused; declining works.
    full = await stack.http.post(
        f"/v1/competitions/{cid}/enrollments/{second.user_id}/decision",
        json={"accept": True},
        headers=owner.auth,
    )
    assert full.status_code == 409 and full.json()["code"] == "FULL"
    declined = await stack.http.post(
        f"/v1/competitions/{cid}/enrollments/{third.user_id}/decision",
        json={"accept": False, "reason": "not this time"},
        headers=owner.auth,
    )
    assert declined.status_code == 202 and declined.json()["status"] == "rejected"
    third_now = await stack.enrollment(cid, third)
    assert (third_now["status"], third_now["reason"]) == ("rejected", "DECLINED")
    again = await stack.http.post(
        f"/v1/competitions/{cid}/enrollments/{third.user_id}/decision",
        json={"accept": True},
        headers=owner.auth,
    )
    assert again.status_code == 404 and again.json()["code"] == "NO_PENDING_REQUEST"
    details = await stack.http.get(f"/v1/competitions/{cid}", headers=owner.auth)
    assert details.json()["participants"] == 1


async def test_a_baseline_is_scored_and_marked_on_the_board(stack: PredictionStack) -> None:
    from submissions_support.stack import answer_key, predictions_csv

    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    key, ids, targets = answer_key(seed=41, rows=60)
    await stack.upload_key(cid, owner, key)
    player = await stack.sign_up("Player")
    assert (await stack.join(cid, player))["status"] == "accepted"
    refused = await stack.http.post(
        f"/v1/competitions/{cid}/baseline-submissions",
        files={"file": ("b.csv", predictions_csv(ids, targets * 0.5), "text/csv")},
        headers=player.auth,
    )
    assert refused.status_code == 403
    baseline = await stack.http.post(
        f"/v1/competitions/{cid}/baseline-submissions",
        files={"file": ("b.csv", predictions_csv(ids, targets * 0.5 + 0.25), "text/csv")},
        headers=owner.auth,
    )
    assert baseline.status_code == 202, baseline.text
    mine = await stack.submit(cid, player, predictions_csv(ids, targets * 0.9))
    assert mine.status_code == 202

    async def board() -> list[dict[str, Any]] | None:
        got = await stack.board(cid)
        entries = got.json()["entries"]
        return entries if len(entries) == 2 else None

    entries = await eventually(board, timeout=30, message="baseline and player on the board")
    marked = {e["user_id"]: e["baseline"] for e in entries}
    assert marked == {owner.user_id: True, player.user_id: False}
    details = await stack.http.get(f"/v1/competitions/{cid}", headers=owner.auth)
    assert details.json()["participants"] == 1
    roster = await stack.http.get(f"/v1/competitions/{cid}/participants", headers=owner.auth)
    assert [p["user_id"] for p in roster.json()["items"]] == [player.user_id]

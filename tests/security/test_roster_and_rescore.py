"""Replay two smaller findings of the penetration run (issue 13, item 9) end to end.

- The roster's `next_cursor` carried the last participant's user id, so a
  stranger paging a roster decoded the ids SPEC §5.2 keeps from them.
- A sponsor's rescore re-sent every "scored" notification and e-mail.

Identity, competitions, scoring, the notifier (with its dev mail sink) and the
gateway run for real on Postgres, Redis and the broker. Each attack is counted
(tried, attacker won, 500s) and both counts must be 0; `pytest -s` prints the table.
"""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from podium_runtime.db import Database
from podium_runtime.testing import TestInfrastructure, eventually
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parents[1]))

from platform_support.stack import User
from submissions_support.stack import (
    PredictionStack,
    answer_key,
    prediction_stack,
    predictions_csv,
)

from security.tally import Tally

pytestmark = pytest.mark.slow

TALLY = Tally()


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """One running stack with the notifier for the whole module."""
    tmp = tmp_path_factory.mktemp("roster-rescore")
    async with prediction_stack(test_infra, tmp, with_notifier=True) as running:
        yield running
    print("\n" + TALLY.table(), flush=True)


# --- the roster cursor ------------------------------------------------------------------


def leaks_a_user_id(cursor: str, users: list[User]) -> bool:
    """Tell whether a cursor, base64-decoded, holds a user id as text, hex or bytes."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for user in users:
        uid = uuid.UUID(user.user_id)
        for form in (str(uid).encode(), uid.hex.encode(), uid.bytes):
            if form.lower() in raw.lower() or form.upper() in raw.upper():
                return True
    return False


async def share_one_enrollment_instant(
    test_infra: TestInfrastructure, competition_id: str, users: list[User]
) -> None:
    """Give `users` one enrollment instant, as joins decided in one batch have."""
    database = Database(test_infra.database_url)
    try:
        async with database.session() as session:
            await session.execute(
                text(
                    "UPDATE competitions.enrollments SET enrolled_at = :at"
                    " WHERE competition_id = :cid AND user_id = ANY(:users)"
                ),
                {
                    "at": datetime.now(UTC) - timedelta(minutes=5),
                    "cid": uuid.UUID(competition_id),
                    "users": [uuid.UUID(u.user_id) for u in users],
                },
            )
            await session.commit()
    finally:
        await database.dispose()


async def test_paging_a_roster_reveals_no_user_id_and_skips_nobody(
    stack: PredictionStack, test_infra: TestInfrastructure
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    players = await stack.sign_up_many(6)
    for player in players:
        assert (await stack.join(cid, player, timeout=30))["status"] == "accepted"
    # Four share an instant (a page boundary falls inside the tie); two enrolled later.
    await share_one_enrollment_instant(test_infra, cid, players[:4])
    names = sorted(p.display_name for p in players)
    attack = TALLY.attack("user ids decoded from roster cursors")
    for viewer in ({}, players[0].auth):  # anonymous, then a fellow participant
        for limit in (1, 2, 3, 5):
            seen: list[str] = []
            params: dict[str, Any] = {"limit": limit}
            while True:
                page = await stack.http.get(
                    f"/v1/competitions/{cid}/participants", params=params, headers=viewer
                )
                assert page.status_code == 200, page.text
                body = page.json()
                seen += [item["display_name"] for item in body["items"]]
                cursor = body["next_cursor"]
                leaked = any(item["user_id"] for item in body["items"]) or any(
                    p.user_id in page.text for p in players
                )
                attack.count(
                    page, leaked or (cursor is not None and leaks_a_user_id(cursor, players))
                )
                if cursor is None:
                    break
                params["cursor"] = cursor
            assert sorted(seen) == names, f"limit {limit}: every participant exactly once"
    forged = await stack.http.get(
        f"/v1/competitions/{cid}/participants",
        params={"cursor": base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00",true]').decode()},
    )
    assert forged.status_code == 400 and forged.json()["code"] == "INVALID_CURSOR", forged.text
    attack.count(forged, False)
    attack.assert_failed()


# --- a rescore replays no "scored" notification ----------------------------------------


async def scored_notices(stack: PredictionStack, user: User) -> list[str]:
    """Return the submission ids of the user's "scored" notifications, one per notification."""
    got = await stack.http.get("/v1/notifications", params={"limit": 100}, headers=user.auth)
    assert got.status_code == 200, got.text
    return [
        n["data"]["submission_id"] for n in got.json()["items"] if n["type"] == "submission.scored"
    ]


def scored_mails(stack: PredictionStack, user: User) -> int:
    """Count the "scored" e-mails the dev sink holds for the user."""
    from podium_notifier.devsink import read_mails

    assert stack.mail_dir is not None
    return sum("was scored" in m["subject"] for m in read_mails(stack.mail_dir, user.email))


async def test_a_rescore_sends_no_scored_notification_or_mail_again(
    stack: PredictionStack,
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    key, ids, truth = answer_key(seed=1)
    await stack.upload_key(cid, owner, key)
    players = await stack.sign_up_many(3)
    submitted: dict[str, str] = {}
    first_scores: dict[str, float] = {}
    for player in players:
        assert (await stack.join(cid, player, timeout=30))["status"] == "accepted"
        sent = await stack.submit(cid, player, predictions_csv(ids, truth.astype(float)))
        assert sent.status_code == 202, sent.text
        submitted[player.user_id] = sent.json()["id"]
        outcome = await stack.outcome(sent.json()["id"], player)
        assert outcome["status"] == "scored", outcome
        first_scores[player.user_id] = outcome["public_score"]

    missing: list[str] = []

    async def notified() -> bool:
        missing.clear()  # who still lacks what, for the failure message
        for player in players:
            if not await scored_notices(stack, player):
                missing.append(f"{player.user_id}: in-app")
            if not scored_mails(stack, player):
                missing.append(f"{player.user_id}: e-mail")
        return not missing

    try:
        await eventually(notified, timeout=60, message="first scores notified in-app and by e-mail")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still missing: {missing}") from None

    # The sponsor replaces the key and rescores: every submission gets a new score.
    await stack.upload_key(cid, owner, answer_key(seed=2)[0])
    attack = TALLY.attack("scored notifications replayed by a rescore")
    rescored = await stack.http.post(f"/v1/competitions/{cid}/rescore", headers=owner.auth)
    attack.count(rescored, False)
    assert rescored.status_code == 202, rescored.text

    async def all_rescored() -> bool:
        for player in players:
            got = await stack.http.get(
                f"/v1/submissions/{submitted[player.user_id]}", headers=player.auth
            )
            assert got.status_code == 200, got.text
            if got.json()["public_score"] == first_scores[player.user_id]:
                return False
        return True

    await eventually(all_rescored, timeout=60, message="rescore applied")
    # A sentinel: one more submission of the same competition, scored after the rescore,
    # whose notification the notifier handles after the rescored events.
    sentinel = players[0]
    sent = await stack.submit(cid, sentinel, predictions_csv(ids, truth.astype(float)))
    assert sent.status_code == 202, sent.text
    await stack.outcome(sent.json()["id"], sentinel)

    async def sentinel_notified() -> bool:
        notices = await scored_notices(stack, sentinel)
        return sent.json()["id"] in notices and scored_mails(stack, sentinel) >= 2

    await eventually(sentinel_notified, timeout=60, message="sentinel notified")
    for player in players:
        notices = await scored_notices(stack, player)
        mine = [submitted[player.user_id]] + ([sent.json()["id"]] if player is sentinel else [])
        answer = httpx.Response(200, request=httpx.Request("GET", "/v1/notifications"))
        attack.count(
            answer, sorted(notices) != sorted(mine) or scored_mails(stack, player) != len(mine)
        )
    attack.assert_failed()

"""The gateway's fast read paths answer per current state right after each change (ADR 0061).

Board pages and public details are rendered once per content read from Redis,
verified access tokens are kept until they expire; none of it may outlive a
change. Each check first reads several times (so whatever the gateway keeps
is warm), changes something, and reads again at once, with no waiting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from competitions_support.stack import CompetitionsStack, competitions_stack
from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, User
from platform_support.windows import running_window
from podium_competitions.seeding import seed_prediction_board
from podium_contracts.redis_keys import (
    competition_card_key,
    leaderboard_entries_key,
    leaderboard_meta_key,
    leaderboard_ranks_key,
)
from podium_runtime.testing import TestInfrastructure, eventually

WARM_READS = 3


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CompetitionsStack]:
    async with competitions_stack(test_infra, tmp_path_factory.mktemp("read-paths")) as running:
        yield running


async def warm(stack: CompetitionsStack, path: str, user: User | None = None) -> dict[str, Any]:
    """Read `path` a few times (all 200, all the same); return the answer."""
    answers = []
    for _ in range(WARM_READS):
        got = await stack.http.get(path, headers=user.auth if user else {})
        assert got.status_code == 200, got.text
        answers.append(got.json())
    assert all(answer == answers[0] for answer in answers)
    return answers[0]  # type: ignore[no-any-return]


async def card_written(store: redis.Redis, competition_id: str) -> None:
    """Wait until the competition's card is in Redis (reads then come from it)."""

    async def present() -> bool:
        return bool(await store.exists(competition_card_key(uuid.UUID(competition_id))))

    await eventually(present, timeout=10, message="read-model card written")


async def test_a_board_page_follows_every_change_of_its_rows_and_visibility(
    stack: CompetitionsStack, store: redis.Redis, test_infra: TestInfrastructure
) -> None:
    owner = await stack.sign_up()
    made = await stack.create(owner, **running_window())
    cid = uuid.UUID(made["id"])
    await seed_prediction_board(test_infra.database_url, test_infra.infra.redis_url, cid, 5)
    await card_written(store, made["id"])
    board = f"/v1/competitions/{cid}/leaderboard?limit=3"
    first = await warm(stack, board)
    assert [e["rank"] for e in first["entries"]] == [1, 2, 3] and first["total"] == 5
    assert first["next_cursor"] is not None

    # A line changes in place (a rename mirrored by competitions): served at once.
    leader = str(first["entries"][0]["user_id"])
    # Lines are stored under their sorted-set member, named by `<id>:at` (ADR 0091).
    member = await store.hget(leaderboard_entries_key(cid, "public"), f"{leader}:at")
    row = json.loads(await store.hget(leaderboard_entries_key(cid, "public"), member))
    await store.hset(
        leaderboard_entries_key(cid, "public"),
        member,
        json.dumps({**row, "display_name": "Renamed leader"}),
    )
    renamed = await stack.http.get(board)
    assert renamed.json()["entries"][0]["display_name"] == "Renamed leader"
    assert renamed.json()["entries"][1:] == first["entries"][1:]

    # The meta moves (a new score elsewhere on the board): total and cursor follow.
    await store.hset(leaderboard_meta_key(cid, "public"), "total", 3)
    shorter = (await stack.http.get(board)).json()
    assert shorter["total"] == 3 and shorter["next_cursor"] is None

    # The line leaves the board: gone from the page at once.
    await store.zrem(leaderboard_ranks_key(cid, "public"), member)
    without = (await stack.http.get(board)).json()
    assert leader not in {e["user_id"] for e in without["entries"]}

    # Visibility: a cached page is never served to anybody once the board is private.
    url = f"/v1/competitions/{cid}"
    stranger = await stack.sign_up()
    await warm(stack, board, stranger)
    hidden = await stack.http.patch(url, json={"visibility": "private"}, headers=owner.auth)
    assert hidden.status_code == 200, hidden.text
    assert (await stack.http.get(board)).status_code == 404
    assert (await stack.http.get(board, headers=stranger.auth)).status_code == 404
    assert (await stack.http.get(board, headers=owner.auth)).json() == without
    shown = await stack.http.patch(url, json={"visibility": "public"}, headers=owner.auth)
    assert shown.status_code == 200, shown.text
    assert (await stack.http.get(board)).json() == without


async def test_public_details_follow_each_change_and_fall_back_on_a_miss(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, stranger = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, **running_window())
    url = f"/v1/competitions/{made['id']}"
    await card_written(store, made["id"])
    for title in ("First title", "Second title", "Third title"):
        changed = await stack.http.patch(url, json={"title": title}, headers=owner.auth)
        assert changed.status_code == 200, changed.text
        assert (await stack.http.get(url)).json()["title"] == title
        assert (await stack.http.get(url, headers=stranger.auth)).json()["title"] == title
        await card_written(store, made["id"])
        assert (await warm(stack, url))["title"] == title

    # The competition ends: the phase of the answer follows at once.
    assert (await warm(stack, url))["phase"] == "running"
    ended = await stack.http.patch(url, json={"status": "ended"}, headers=owner.auth)
    assert ended.status_code == 200, ended.text
    assert (await stack.http.get(url)).json()["phase"] == "ended"

    # Made private: strangers lose the details at once, anonymous or signed in.
    secret = await stack.create(owner, **running_window())
    secret_url = f"/v1/competitions/{secret['id']}"
    await card_written(store, secret["id"])
    details = await warm(stack, secret_url, stranger)
    hidden = await stack.http.patch(secret_url, json={"visibility": "private"}, headers=owner.auth)
    assert hidden.status_code == 200, hidden.text
    assert (await stack.http.get(secret_url)).status_code == 404
    assert (await stack.http.get(secret_url, headers=stranger.auth)).status_code == 404

    # The card lost (a Redis flush): the service answers the same document.
    shown = await stack.http.patch(secret_url, json={"visibility": "public"}, headers=owner.auth)
    assert shown.status_code == 200, shown.text
    await card_written(store, secret["id"])
    again = await warm(stack, secret_url)
    assert again["title"] == details["title"]
    await store.delete(competition_card_key(uuid.UUID(secret["id"])))
    assert (await stack.http.get(secret_url)).json() == again


async def test_a_member_removed_loses_the_private_board_at_once(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, friend = await stack.sign_up(), await stack.sign_up()
    secret = await stack.create(owner, visibility="private", late_join=True, **running_window())
    board = f"/v1/competitions/{secret['id']}/leaderboard"
    await card_written(store, secret["id"])
    joined = await stack.join(secret["id"], friend, invite_code=secret["invite_code"])
    assert joined["status"] == "accepted", joined
    await warm(stack, board, friend)
    removed = await stack.http.delete(
        f"/v1/competitions/{secret['id']}/participants/{friend.user_id}", headers=owner.auth
    )
    assert removed.status_code == 204, removed.text
    assert (await stack.http.get(board, headers=friend.auth)).status_code == 404


async def _admin_patch(
    stack: CompetitionsStack, root: dict[str, str], user: User, **change: Any
) -> None:
    changed = await stack.http.patch(f"/v1/admin/users/{user.user_id}", json=change, headers=root)
    assert changed.status_code == 200, changed.text


async def test_a_known_token_is_refused_at_once_when_revoked_or_its_user_changes(
    stack: CompetitionsStack,
) -> None:
    root = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    owner = await stack.sign_up()
    made = await stack.create(owner, **running_window())
    url = f"/v1/competitions/{made['id']}"

    # Logged out: the token the gateway verified a moment ago is refused.
    leaving = await stack.sign_up()
    login = await stack.http.post(
        "/v1/auth/login", json={"email": leaving.email, "password": PASSWORD}
    )
    leaving.token = login.json()["access_token"]
    await warm(stack, url, leaving)
    logout = await stack.http.post(
        "/v1/auth/logout",
        headers=leaving.auth,
        json={"refresh_token": login.json()["refresh_token"]},
    )
    assert logout.status_code == 204, logout.text
    refused = await stack.http.get(url, headers=leaving.auth)
    assert (refused.status_code, refused.json()["code"]) == (401, "TOKEN_REVOKED")

    # Disabled: refused at once.
    disabled = await stack.sign_up()
    await warm(stack, url, disabled)
    await _admin_patch(stack, root, disabled, disabled=True)
    refused = await stack.http.get(url, headers=disabled.auth)
    assert (refused.status_code, refused.json()["code"]) == (401, "TOKEN_REVOKED")

    # Demoted: the admin claim of a known token no longer opens admin routes.
    deputy = await stack.sign_up()
    await _admin_patch(stack, root, deputy, role="admin")
    deputy.token = await stack.login(deputy.email, PASSWORD)
    await warm(stack, "/v1/admin/users", deputy)
    await _admin_patch(stack, root, deputy, role="user")
    assert (await stack.http.get("/v1/admin/users", headers=deputy.auth)).status_code == 403
    assert (await stack.http.get(url, headers=deputy.auth)).status_code == 200


async def test_a_renamed_profile_is_read_at_once(stack: CompetitionsStack) -> None:
    user = await stack.sign_up()
    before = await warm(stack, "/v1/users/me", user)
    for name in ("Renamed once", "Renamed twice"):
        changed = await stack.http.patch(
            "/v1/users/me", json={"display_name": name}, headers=user.auth
        )
        assert changed.status_code == 200, changed.text
        got = await stack.http.get("/v1/users/me", headers=user.auth)
        assert got.json()["display_name"] == name
        assert got.json()["email"] == before["email"]

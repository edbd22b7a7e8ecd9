"""The gateway's competitions read model (ADR 0041): exact per current state, misses fall back.

Each check reads right after the change's answer, with no waiting: a card that
outlived a change would be served at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from competitions_support.stack import CompetitionsStack, competitions_stack
from platform_support.stack import User
from platform_support.windows import running_window
from podium_contracts.redis_keys import (
    competition_card_key,
    competition_fence_key,
    competition_members_key,
)
from podium_runtime.testing import TestInfrastructure, eventually


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CompetitionsStack]:
    async with competitions_stack(test_infra, tmp_path_factory.mktemp("read-model")) as running:
        yield running


async def card_of(store: redis.Redis, competition_id: str) -> dict[str, object]:
    """Wait for the competition's card in Redis and return it."""

    async def present() -> dict[str, object] | None:
        raw = await store.get(competition_card_key(uuid.UUID(competition_id)))
        return json.loads(raw) if raw else None

    return await eventually(present, timeout=10, message="read-model card written")


async def read(stack: CompetitionsStack, path: str, user: User | None = None) -> int:
    got = await stack.http.get(path, headers=user.auth if user else {})
    return got.status_code


async def test_reads_come_from_the_card_once_written(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner = await stack.sign_up()
    made = await stack.create(owner, **running_window())
    url = f"/v1/competitions/{made['id']}"
    assert (await stack.http.get(url)).json()["title"] == made["title"]
    card = await card_of(store, made["id"])
    assert card["visibility"] == "public" and card["owner_id"] == owner.user_id

    # The gateway answers from the card: a marked copy shows through, phase recomputed.
    marked = {**card, "document": {**card["document"], "title": "Served from the card"}}  # type: ignore[dict-item]
    await store.set(competition_card_key(uuid.UUID(made["id"])), json.dumps(marked))
    details = (await stack.http.get(url)).json()
    assert details["title"] == "Served from the card"
    assert details["phase"] == "running" and details["viewer"]["role"] == "viewer"
    stranger = await stack.sign_up()
    assert (await stack.http.get(url, headers=stranger.auth)).json()["title"] == (
        "Served from the card"
    )
    # The owner's view (with the invite code rules, the sponsor role) is the service's own.
    mine = (await stack.http.get(url, headers=owner.auth)).json()
    assert mine["title"] == made["title"] and mine["viewer"]["role"] == "sponsor"


async def test_visibility_changes_apply_at_once(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, stranger = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, **running_window())
    url = f"/v1/competitions/{made['id']}"
    board = f"{url}/leaderboard"
    assert await read(stack, board) == 200
    await card_of(store, made["id"])
    for _ in range(3):
        hidden = await stack.http.patch(url, json={"visibility": "private"}, headers=owner.auth)
        assert hidden.status_code == 200, hidden.text
        for path in (url, board):
            assert await read(stack, path) == 404
            assert await read(stack, path, stranger) == 404
            assert await read(stack, path, owner) == 200
        shown = await stack.http.patch(url, json={"visibility": "public"}, headers=owner.auth)
        assert shown.status_code == 200, shown.text
        for path in (url, board):
            assert await read(stack, path) == 200
            assert await read(stack, path, stranger) == 200
    # The card follows the last change once it is written again.
    card = await eventually(
        lambda: _card_if(store, made["id"], lambda c: c["visibility"] == "public"),
        timeout=10,
        message="card rewritten after the change",
    )
    assert card["status"] == "active"


async def _card_if(store: redis.Redis, competition_id: str, test: object) -> object:
    raw = await store.get(competition_card_key(uuid.UUID(competition_id)))
    card = json.loads(raw) if raw else None
    return card if card is not None and test(card) else None  # type: ignore[operator]


async def test_a_removed_member_loses_the_private_board_at_once(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, friend, other = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    secret = await stack.create(owner, visibility="private", late_join=True, **running_window())
    url = f"/v1/competitions/{secret['id']}"
    board = f"{url}/leaderboard"
    cid = uuid.UUID(secret["id"])
    assert await read(stack, board, friend) == 404
    await card_of(store, secret["id"])
    for member in (friend, other):
        joined = await stack.join(secret["id"], member, invite_code=secret["invite_code"])
        assert joined["status"] == "accepted", joined
    # Members read the board from the read model as soon as they are accepted.
    assert await store.hexists(competition_members_key(cid), friend.user_id)
    assert await read(stack, board, friend) == 200
    assert (await stack.http.get(url, headers=friend.auth)).json()["viewer"]["role"] == (
        "participant"
    )

    left = await stack.http.delete(f"{url}/enrollment", headers=friend.auth)
    assert left.status_code == 204
    assert await read(stack, board, friend) == 404
    assert await read(stack, url, friend) == 404

    removed = await stack.http.delete(f"{url}/participants/{other.user_id}", headers=owner.auth)
    assert removed.status_code == 204, removed.text
    assert await read(stack, board, other) == 404
    assert not await store.hexists(competition_members_key(cid), other.user_id)
    assert await read(stack, board, owner) == 200


async def test_a_miss_falls_back_to_the_service_and_repairs(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, friend, stranger = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    secret = await stack.create(owner, visibility="private", late_join=True, **running_window())
    cid = uuid.UUID(secret["id"])
    url = f"/v1/competitions/{secret['id']}"
    await stack.join(secret["id"], friend, invite_code=secret["invite_code"])
    await card_of(store, secret["id"])

    for lost in (competition_card_key(cid), competition_members_key(cid)):
        await store.delete(lost)
        assert await read(stack, f"{url}/leaderboard", stranger) == 404
        assert await read(stack, f"{url}/leaderboard") == 404
        assert await read(stack, f"{url}/leaderboard", friend) == 200
        assert (await stack.http.get(url, headers=friend.auth)).json()["viewer"]["role"] == (
            "participant"
        )
        await card_of(store, secret["id"])
        assert await store.hexists(competition_members_key(cid), friend.user_id)

    # A change left half-done (a crash between commit and rewrite) keeps readers on Postgres.
    await store.hset(competition_fence_key(cid), "pending", 1)
    await store.delete(competition_card_key(cid))
    assert await read(stack, f"{url}/leaderboard", friend) == 200
    assert await read(stack, f"{url}/leaderboard", stranger) == 404
    unknown = uuid.uuid4()
    assert await read(stack, f"/v1/competitions/{unknown}") == 404
    assert await read(stack, f"/v1/competitions/{unknown}/leaderboard") == 404
    assert await store.get(competition_card_key(unknown)) is None

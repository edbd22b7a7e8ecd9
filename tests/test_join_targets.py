"""Joins by id resolved from the read-model card (ADR 0065), decided by competitions as before.

The gateway answers a join by id from the competition's card in Redis, without
asking the competitions service; the decision stays with competitions, which
reads Postgres. A missing card falls back to the internal API and is repaired.
Cards of every competition a join batch touched are rewritten together.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer
from competitions_support.stack import CompetitionsStack, competitions_stack
from platform_support.windows import running_window
from podium_contracts.redis_keys import competition_card_key, tokens_revoked_before_key
from podium_contracts.topics import ENROLLMENTS
from podium_runtime.testing import TestInfrastructure, eventually


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CompetitionsStack]:
    async with competitions_stack(test_infra, tmp_path_factory.mktemp("join-targets")) as running:
        yield running


async def card_of(store: redis.Redis, competition_id: str, participants: int = 0) -> dict:  # type: ignore[type-arg]
    """Wait for the competition's card showing `participants` and return it."""

    async def present() -> dict | None:  # type: ignore[type-arg]
        raw = await store.get(competition_card_key(uuid.UUID(competition_id)))
        card = json.loads(raw) if raw else None
        if card is None or card["document"]["participants"] != participants:
            return None
        return card  # type: ignore[no-any-return]

    return await eventually(present, timeout=10, message=f"card with {participants} participants")


async def test_a_join_by_id_is_answered_from_the_card_and_decided_by_competitions(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    real = await stack.create(owner, late_join=True, **running_window())
    card = await card_of(store, real["id"])
    # A card copied under an id Postgres does not know: the gateway accepts the join
    # from the card alone, and competitions, reading Postgres, rejects it.
    ghost = str(uuid.uuid4())
    await store.set(competition_card_key(uuid.UUID(ghost)), json.dumps({**card, "id": ghost}))
    outcomes = AIOKafkaConsumer(
        stack.topic_prefix + ENROLLMENTS.name,
        bootstrap_servers=stack.bootstrap_servers,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await outcomes.start()
    try:
        await outcomes.seek_to_end()
        asked = await stack.http.post(f"/v1/competitions/{ghost}/join", headers=player.auth)
        assert asked.status_code == 202, asked.text
        request_id = asked.json()["request_id"]

        async def decision() -> dict | None:  # type: ignore[type-arg]
            batch = await outcomes.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["data"].get("request_id") == request_id:
                        return event  # type: ignore[no-any-return]
            return None

        event = await eventually(decision, timeout=10, message="the decision of the join")
    finally:
        await outcomes.stop()
    assert event["type"] == "enrollment.rejected"
    assert event["data"]["reason"] == "COMPETITION_NOT_FOUND"


async def test_an_unknown_competition_without_a_card_is_404(stack: CompetitionsStack) -> None:
    player = await stack.sign_up()
    asked = await stack.http.post(f"/v1/competitions/{uuid.uuid4()}/join", headers=player.auth)
    assert asked.status_code == 404, asked.text
    assert asked.json()["code"] == "NOT_FOUND"


async def test_a_missing_card_falls_back_and_is_repaired(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, late_join=True, **running_window())
    await card_of(store, made["id"])
    await store.delete(competition_card_key(uuid.UUID(made["id"])))
    assert (await stack.join(made["id"], player))["status"] == "accepted"
    await card_of(store, made["id"], participants=1)


async def test_one_batch_of_joins_rewrites_the_card_of_every_competition(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    owner = await stack.sign_up()
    players = await stack.sign_up_many(3)
    made = [await stack.create(owner, late_join=True, **running_window()) for _ in range(3)]
    for competition in made:
        await card_of(store, competition["id"])
    # Sent together, so that competitions decides them in few polls.
    asked = await asyncio.gather(
        *(
            stack.http.post(f"/v1/competitions/{c['id']}/join", headers=p.auth)
            for c in made
            for p in players[: made.index(c) + 1]
        )
    )
    assert all(a.status_code == 202 for a in asked), [a.text for a in asked]
    for count, competition in enumerate(made, start=1):
        card = await card_of(store, competition["id"], participants=count)
        assert card["id"] == competition["id"]


async def only_key(store: redis.Redis, pattern: str) -> bytes | None:
    """Return the one key matching `pattern` (the gateway's prefix is the run's), or None."""
    found = [key async for key in store.scan_iter(match=pattern, count=1000)]
    assert len(found) <= 1, found
    return found[0] if found else None


async def test_a_refused_caller_records_nothing(
    stack: CompetitionsStack, store: redis.Redis
) -> None:
    """The checks, the card and the pending marker share one script: a refusal records nothing."""
    owner, player = await stack.sign_up(), await stack.sign_up()
    first = await stack.create(owner, late_join=True, **running_window())
    second = await stack.create(owner, late_join=True, **running_window())
    await card_of(store, second["id"])
    assert (await stack.join(first["id"], player))["status"] == "accepted"
    limit_key = await only_key(store, f"*rl:user:{player.user_id}")
    assert limit_key is not None
    pending = f"*join-pending:{second['id']}:{player.user_id}"
    join = f"/v1/competitions/{second['id']}/join"

    # Over the rate limit: 429, the request is not published, nothing is pending.
    await store.set(limit_key, 1_000_000, keepttl=True)
    for headers in (player.auth, {**player.auth, "Idempotency-Key": f"k-{uuid.uuid4()}"}):
        refused = await stack.http.post(join, headers=headers)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "RATE_LIMIT_EXCEEDED"
        assert await only_key(store, pending) is None
    await store.delete(limit_key)

    # A token issued before its user's tokens were revoked: 401, nothing pending, not counted.
    revoked = tokens_revoked_before_key(uuid.UUID(player.user_id))
    await store.set(revoked, str(datetime.now(UTC).timestamp() + 60), ex=120)
    try:
        refused = await stack.http.post(join, headers=player.auth)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "TOKEN_REVOKED"
        assert await only_key(store, pending) is None
        assert await only_key(store, f"*rl:user:{player.user_id}") is None
    finally:
        await store.delete(revoked)

    # Admitted again: pending right after the 202, then decided.
    asked = await stack.http.post(join, headers=player.auth)
    assert asked.status_code == 202, asked.text
    marker = await only_key(store, pending)
    assert marker is not None
    assert await store.get(marker) == asked.json()["request_id"].encode()
    assert (await stack.decided(second["id"], player))["status"] == "accepted"

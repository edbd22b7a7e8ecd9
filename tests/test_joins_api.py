"""Joining through the gateway, end to end: 202 then a decision over Kafka (SPEC §5.2, §4)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from competitions_support.stack import CompetitionsStack, competitions_stack
from podium_contracts.topics import JOINS
from podium_runtime.testing import TestInfrastructure, eventually


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CompetitionsStack]:
    async with competitions_stack(test_infra, tmp_path_factory.mktemp("joins")) as running:
        yield running


async def test_join_is_accepted_within_two_seconds(stack: CompetitionsStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner)
    url = f"/v1/competitions/{made['id']}"
    asked = await stack.http.post(f"{url}/join", headers=player.auth)
    assert asked.status_code == 202
    body = asked.json()
    assert body["status"] == "pending" and uuid.UUID(body["request_id"])
    right_after = await stack.enrollment(made["id"], player)
    assert right_after["status"] in ("pending", "accepted")
    decided = await stack.decided(made["id"], player, timeout=2.0)
    assert decided["status"] == "accepted" and decided["enrolled_at"]
    assert decided["request_id"] == body["request_id"]


async def test_rejoin_is_a_no_op_and_leave_frees_the_seat(stack: CompetitionsStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, max_participants=1)
    url = f"/v1/competitions/{made['id']}"
    first = await stack.join(made["id"], player)
    again = await stack.join(made["id"], player)
    assert again["status"] == "accepted"
    assert again["enrolled_at"] == first["enrolled_at"]
    assert (await stack.http.get(url)).json()["participants"] == 1

    left = await stack.http.delete(f"{url}/enrollment", headers=player.auth)
    assert left.status_code == 204
    assert (await stack.enrollment(made["id"], player))["status"] == "left"
    assert (await stack.http.get(url)).json()["participants"] == 0
    assert (await stack.http.get(url, headers=player.auth)).json()["viewer"]["role"] == "viewer"
    again_left = await stack.http.delete(f"{url}/enrollment", headers=player.auth)
    assert again_left.status_code == 404 and again_left.json()["code"] == "NOT_ENROLLED"
    # The freed seat goes to the next person.
    assert (await stack.join(made["id"], await stack.sign_up()))["status"] == "accepted"


async def test_enrollment_of_a_competition_never_joined_is_not_found(
    stack: CompetitionsStack,
) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner)
    answer = await stack.enrollment(made["id"], player)
    assert answer["http_status"] == 404 and answer["code"] == "NOT_ENROLLED"
    unauthenticated = await stack.http.get(f"/v1/competitions/{made['id']}/enrollment")
    assert unauthenticated.status_code == 401


async def test_rejected_when_competition_not_active(stack: CompetitionsStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, status="draft")
    decided = await stack.join(made["id"], player)
    assert (decided["status"], decided["reason"]) == ("rejected", "COMPETITION_NOT_ACTIVE")


async def test_rejected_when_already_started(stack: CompetitionsStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    started = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    made = await stack.create(owner, starts_at=started)
    decided = await stack.join(made["id"], player)
    assert (decided["status"], decided["reason"]) == ("rejected", "ALREADY_STARTED")
    late = await stack.create(owner, starts_at=started, late_join=True)
    assert (await stack.join(late["id"], player))["status"] == "accepted"


async def test_rejected_when_full(stack: CompetitionsStack) -> None:
    owner, first, second = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, max_participants=1)
    assert (await stack.join(made["id"], first))["status"] == "accepted"
    decided = await stack.join(made["id"], second)
    assert (decided["status"], decided["reason"]) == ("rejected", "FULL")


async def test_rejected_with_invalid_invite_code(stack: CompetitionsStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, visibility="private")
    without = await stack.join(made["id"], player)
    assert (without["status"], without["reason"]) == ("rejected", "INVALID_INVITE_CODE")
    wrong = await stack.join(made["id"], player, invite_code="not-the-code")
    assert (wrong["status"], wrong["reason"]) == ("rejected", "INVALID_INVITE_CODE")
    right = await stack.join(made["id"], player, invite_code=made["invite_code"])
    assert right["status"] == "accepted"
    unknown = await stack.http.post("/v1/join/no-such-code", headers=player.auth)
    assert unknown.status_code == 404 and unknown.json()["code"] == "INVALID_INVITE_CODE"


async def test_regenerated_invite_code_retires_the_old_one(stack: CompetitionsStack) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner, visibility="private")
    url = f"/v1/competitions/{made['id']}/invite-code"
    assert (await stack.http.post(url, headers=player.auth)).status_code == 404
    fresh = await stack.http.post(url, headers=owner.auth)
    assert fresh.status_code == 200
    new_code = fresh.json()["invite_code"]
    stale = await stack.http.post(f"/v1/join/{made['invite_code']}", headers=player.auth)
    assert stale.status_code == 404 and stale.json()["code"] == "INVALID_INVITE_CODE"
    asked = await stack.http.post(f"/v1/join/{new_code}", headers=player.auth)
    assert asked.status_code == 202
    assert (await stack.decided(made["id"], player))["status"] == "accepted"


async def test_rejected_when_owner_joins(stack: CompetitionsStack) -> None:
    owner = await stack.sign_up()
    made = await stack.create(owner)
    decided = await stack.join(made["id"], owner)
    assert (decided["status"], decided["reason"]) == ("rejected", "OWNER_CANNOT_JOIN")


async def test_joining_an_unknown_competition_is_not_found(stack: CompetitionsStack) -> None:
    player = await stack.sign_up()
    response = await stack.http.post(f"/v1/competitions/{uuid.uuid4()}/join", headers=player.auth)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    anonymous = await stack.http.post(f"/v1/competitions/{uuid.uuid4()}/join")
    assert anonymous.status_code == 401


async def _join_events(stack: CompetitionsStack, user_id: str) -> list[dict[str, Any]]:
    """Read every join.requested of `user_id` from the joins topic."""
    consumer = AIOKafkaConsumer(
        stack.topic_prefix + JOINS.name,
        bootstrap_servers=stack.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        # Read to the end of every partition as it is now.
        partitions = consumer.assignment()
        while not partitions:
            await consumer.getmany(timeout_ms=100)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found += [json.loads(r.value) for r in records]
    finally:
        await consumer.stop()
    return [e for e in found if e["data"]["user_id"] == user_id]


async def test_idempotency_key_gives_one_event_and_the_same_answer(
    stack: CompetitionsStack,
) -> None:
    owner, player, other = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    made = await stack.create(owner)
    url = f"/v1/competitions/{made['id']}/join"
    key = {"Idempotency-Key": f"join-{uuid.uuid4()}"}
    first = await stack.http.post(url, headers={**player.auth, **key})
    second = await stack.http.post(url, headers={**player.auth, **key})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    # Concurrent retries with a fresh key still publish once.
    key2 = {"Idempotency-Key": f"join-{uuid.uuid4()}"}
    burst = await asyncio.gather(
        *(stack.http.post(url, headers={**player.auth, **key2}) for _ in range(5))
    )
    assert {r.status_code for r in burst} == {202}
    assert len({r.json()["request_id"] for r in burst}) == 1
    # The same key from another user is that user's own request.
    theirs = await stack.http.post(url, headers={**other.auth, **key})
    assert theirs.status_code == 202 and theirs.json()["request_id"] != first.json()["request_id"]
    reused = await stack.http.post(
        f"/v1/competitions/{uuid.uuid4()}/join", headers={**player.auth, **key}
    )
    assert reused.status_code == 422 and reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"

    assert (await stack.decided(made["id"], player))["status"] == "accepted"
    events = await eventually(
        lambda: _join_events(stack, player.user_id), message="join events readable"
    )
    assert sorted(e["data"]["request_id"] for e in events) == sorted(
        {first.json()["request_id"], burst[0].json()["request_id"]}
    )


@pytest.mark.slow
async def test_capacity_holds_when_fifty_users_join_at_once(stack: CompetitionsStack) -> None:
    owner = await stack.sign_up()
    players = await stack.sign_up_many(50)
    made = await stack.create(owner, max_participants=10)
    url = f"/v1/competitions/{made['id']}/join"
    asked = await asyncio.gather(*(stack.http.post(url, headers=p.auth) for p in players))
    assert {r.status_code for r in asked} == {202}
    decided = await asyncio.gather(*(stack.decided(made["id"], p, timeout=20) for p in players))
    outcomes = [(d["status"], d.get("reason")) for d in decided]
    assert outcomes.count(("accepted", None)) == 10
    assert outcomes.count(("rejected", "FULL")) == 40
    detail = await stack.http.get(f"/v1/competitions/{made['id']}")
    assert detail.json()["participants"] == 10
    roster = await stack.http.get(
        f"/v1/competitions/{made['id']}/participants", params={"limit": 100}
    )
    assert len(roster.json()["items"]) == 10

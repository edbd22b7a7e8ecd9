"""Prize fulfilment: address, shipping, delivery, digital codes, reminders, forfeits, alternates."""

from __future__ import annotations

import json
import uuid
from typing import Any

from podium_rewards.models import messaging
from podium_rewards.verify import verify_proof
from podium_runtime.outbox import staged_events
from rewards_harness import Running, admin, caller

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "gb",
}


async def announced(rewards: Running, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Return the `fulfillment.updated` data the service staged for a user, oldest first."""
    async with rewards.service.runtime.db.session() as session:
        staged = await staged_events(session, messaging.outbox, "fulfillment.updated")
    # The key of `podium.rewards` is the user id.
    return [event["data"] for event in staged if event["data"]["user_id"] == str(user_id)]


async def won(rewards: Running, buyers: int, **fields: Any) -> tuple[str, list[uuid.UUID]]:
    """Run a drawing with `buyers` one-ticket buyers to completion; return it and the buyers."""
    drawing = await rewards.open_drawing(**fields)
    users = []
    for _ in range(buyers):
        user = uuid.uuid4()
        await rewards.earn(user, 10)
        assert (await rewards.buy(user, drawing["id"], 1)).status_code == 201
        users.append(user)
    assert (await rewards.set_status(drawing["id"], "closed")).status_code == 200
    done = await rewards.http.post(
        f"/internal/v1/drawings/{drawing['id']}/execute", headers=admin()
    )
    assert done.status_code == 200, done.text
    return drawing["id"], users


async def prizes_of(rewards: Running, user: uuid.UUID) -> list[dict[str, Any]]:
    got = await rewards.http.get("/internal/v1/fulfillments", headers=caller(user))
    assert got.status_code == 200, got.text
    return got.json()["items"]  # type: ignore[no-any-return]


async def test_a_physical_prize_goes_from_address_to_shipped_to_delivered(rewards: Running) -> None:
    did, users = await won(rewards, 3)
    results = (await rewards.http.get(f"/internal/v1/drawings/{did}/results")).json()
    winner = uuid.UUID(results["winners"][0]["user_id"])
    (prize,) = await prizes_of(rewards, winner)
    assert prize["status"] == "awaiting_address" and prize["address"] is None
    fid = prize["id"]
    url = f"/internal/v1/fulfillments/{fid}"
    # Nobody but the winner reaches the prize; a bad address is refused with the field.
    loser = next(u for u in users if u != winner)
    other = await rewards.http.put(f"{url}/address", json=ADDRESS, headers=caller(loser))
    assert other.status_code == 404
    bad = await rewards.http.put(
        f"{url}/address", json={**ADDRESS, "country": "Britain"}, headers=caller(winner)
    )
    assert bad.status_code == 422
    early = await rewards.http.post(
        f"{url}/ship", json={"carrier": "USPS", "tracking_number": "9400123456789"}, headers=admin()
    )
    assert early.status_code == 409
    given = await rewards.http.put(f"{url}/address", json=ADDRESS, headers=caller(winner))
    assert given.status_code == 200, given.text
    assert given.json()["status"] == "address_confirmed"
    assert given.json()["address"]["country"] == "GB"
    by_user = await rewards.http.post(
        f"{url}/ship",
        json={"carrier": "USPS", "tracking_number": "9400123"},
        headers=caller(winner),
    )
    assert by_user.status_code == 403
    shipped = await rewards.http.post(
        f"{url}/ship", json={"carrier": "USPS", "tracking_number": "9400123456789"}, headers=admin()
    )
    assert shipped.json()["status"] == "shipped"
    late = await rewards.http.put(f"{url}/address", json=ADDRESS, headers=caller(winner))
    assert late.status_code == 409 and late.json()["code"] == "FULFILLMENT_NOT_AWAITING_ADDRESS"
    delivered = await rewards.http.patch(url, json={"status": "delivered"}, headers=admin())
    assert delivered.json()["status"] == "delivered" and delivered.json()["delivered_at"]
    listed = await rewards.http.get(
        "/internal/v1/fulfillments",
        params={"mine": "false", "status": "delivered"},
        headers=admin(),
    )
    assert fid in {item["id"] for item in listed.json()["items"]}
    everyone = await rewards.http.get(
        "/internal/v1/fulfillments", params={"mine": "false"}, headers=caller(winner)
    )
    assert everyone.status_code == 403
    changes = [(e["change"], e["status"]) for e in await announced(rewards, winner)]
    assert changes == [
        ("won", "awaiting_address"),
        ("shipped", "shipped"),
        ("delivered", "delivered"),
    ]
    events = await announced(rewards, winner)
    assert events[1]["carrier"] == "USPS" and events[1]["tracking_number"] == "9400123456789"
    assert all("address" not in e and "SW1Y" not in json.dumps(e) for e in events)


async def test_a_digital_prize_delivers_its_code_at_once(rewards: Running) -> None:
    _, users = await won(
        rewards, 1, prizes=[{"rank": 1, "name": "Gift card", "value": 50, "kind": "digital"}]
    )
    (prize,) = await prizes_of(rewards, users[0])
    assert prize["status"] == "delivered" and prize["code"].startswith("PODIUM-")
    (event,) = await announced(rewards, users[0])
    assert (event["change"], event["code"]) == ("delivered", prize["code"])


async def test_unclaimed_prizes_are_reminded_at_7_days_and_redrawn_at_14(rewards: Running) -> None:
    did, _ = await won(rewards, 4)
    (first,) = [
        w
        for w in (await rewards.http.get(f"/internal/v1/drawings/{did}/results")).json()["winners"]
    ]
    winner = uuid.UUID(first["user_id"])
    # Other tests' prizes share the database: assert on this winner's own messages.
    rewards.clock.advance(days=6, hours=23)
    await rewards.service.scheduler.tick()
    assert [e["change"] for e in await announced(rewards, winner)] == ["won"]
    rewards.clock.advance(hours=2)
    await rewards.service.scheduler.tick()
    await rewards.service.scheduler.tick()  # reminded once only
    assert [e["change"] for e in await announced(rewards, winner)] == ["won", "reminder"]
    rewards.clock.advance(days=7)
    tick = await rewards.service.scheduler.tick()
    assert tick.forfeited >= 1
    results = (await rewards.http.get(f"/internal/v1/drawings/{did}/results")).json()
    original, alternate = results["winners"]
    assert (original["forfeited"], original["round"]) == (True, 0)
    assert (alternate["forfeited"], alternate["round"], alternate["unit"]) == (False, 1, 1)
    assert alternate["user_id"] != original["user_id"]
    assert [e["change"] for e in await announced(rewards, winner)] == [
        "won",
        "reminder",
        "forfeited",
    ]
    assert [e["change"] for e in await announced(rewards, uuid.UUID(alternate["user_id"]))] == [
        "won"
    ]
    (prize,) = await prizes_of(rewards, winner)
    assert prize["status"] == "forfeited"
    # The alternate follows from the same committed seed: the proof still verifies.
    proof = (await rewards.http.get(f"/internal/v1/drawings/{did}/proof")).json()
    assert proof["redraws"] == [1]
    assert verify_proof(proof).ok
    # The alternate's own clock starts now: nothing is due for them yet.
    await rewards.service.scheduler.tick()
    assert [e["change"] for e in await announced(rewards, uuid.UUID(alternate["user_id"]))] == [
        "won"
    ]
    # An admin may forfeit too; the next alternate comes from the same stream.
    (again,) = await prizes_of(rewards, uuid.UUID(alternate["user_id"]))
    forfeited = await rewards.http.patch(
        f"/internal/v1/fulfillments/{again['id']}", json={"status": "forfeited"}, headers=admin()
    )
    assert forfeited.json()["status"] == "forfeited"
    proof = (await rewards.http.get(f"/internal/v1/drawings/{did}/proof")).json()
    assert proof["redraws"] == [1, 1] and verify_proof(proof).ok
    assert len({w["holder"] for w in proof["winners"]}) == 3

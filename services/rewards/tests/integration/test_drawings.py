"""The drawing lifecycle on an injectable clock: states, commit-reveal, exactly-once execution."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from podium_rewards import domain
from podium_rewards.verify import verify_proof
from podium_runtime.testing import eventually
from rewards_harness import Running, admin, caller


async def _buyers(rewards: Running, drawing_id: str, tickets: list[int]) -> list[uuid.UUID]:
    users = []
    for count in tickets:
        user = uuid.uuid4()
        await rewards.earn(user, 10 * count)
        bought = await rewards.buy(user, drawing_id, count)
        assert bought.status_code == 201, bought.text
        users.append(user)
    return users


async def test_the_whole_lifecycle_runs_on_the_clock_and_executes_once(rewards: Running) -> None:
    drawing = await rewards.create_drawing(
        prizes=[
            {"rank": 1, "name": "Bike", "value": 900, "kind": "physical"},
            {"rank": 2, "name": "Gift card", "value": 50, "kind": "digital", "quantity": 2},
        ]
    )
    did = drawing["id"]
    assert drawing["status"] == "draft"
    # Nothing moves a draft: it must be scheduled first.
    rewards.clock.now = datetime.fromisoformat(drawing["sales_open_at"])
    await rewards.service.scheduler.tick()
    assert (await rewards.http.get(f"/internal/v1/drawings/{did}", headers=admin())).json()[
        "status"
    ] == "draft"
    wrong = await rewards.set_status(did, "closed")
    assert wrong.status_code == 409 and wrong.json()["code"] == "INVALID_TRANSITION"
    assert (await rewards.set_status(did, "scheduled")).status_code == 200
    await rewards.service.scheduler.tick()
    await _buyers(rewards, did, [1, 2, 3, 4])
    anonymous = await rewards.http.get(f"/internal/v1/drawings/{did}")
    assert anonymous.json()["commitment"] is None and anonymous.json()["my_tickets"] is None
    # Sales close: the ticket list is frozen and the commitment published.
    rewards.clock.now = datetime.fromisoformat(drawing["sales_close_at"])
    tick = await rewards.service.scheduler.tick()
    assert tick.moved.get("closed", 0) >= 1  # other tests' drawings may close too
    closed = (await rewards.http.get(f"/internal/v1/drawings/{did}")).json()
    assert closed["status"] == "closed" and len(closed["commitment"]) == 64
    assert closed["closes_at"] == closed["sales_close_at"]
    proof = (await rewards.http.get(f"/internal/v1/drawings/{did}/proof")).json()
    assert proof["seed"] is None and proof["tickets_digest"] == closed["tickets_digest"]
    assert len(proof["tickets"]) == 10
    early = await rewards.http.get(f"/internal/v1/drawings/{did}/results")
    assert early.status_code == 409 and early.json()["code"] == "DRAWING_NOT_COMPLETED"
    # Drawing time: two replicas' ticks and an admin's execution at once draw once.
    rewards.clock.now = datetime.fromisoformat(drawing["drawing_at"])
    ticks = await asyncio.gather(
        rewards.service.scheduler.tick(),
        rewards.service.scheduler.tick(),
        rewards.http.post(f"/internal/v1/drawings/{did}/execute", headers=admin()),
    )
    assert ticks[2].status_code == 200, ticks[2].text
    results = (await rewards.http.get(f"/internal/v1/drawings/{did}/results")).json()
    assert [w["prize_rank"] for w in results["winners"]] == [1, 2, 2]
    assert len({w["user_id"] for w in results["winners"]}) == 3  # nobody wins twice
    again = await rewards.http.post(f"/internal/v1/drawings/{did}/execute", headers=admin())
    assert again.json() == results
    await rewards.service.scheduler.tick()
    assert (await rewards.http.get(f"/internal/v1/drawings/{did}/results")).json() == results
    proof = (await rewards.http.get(f"/internal/v1/drawings/{did}/proof")).json()
    assert domain.commitment(proof["seed"]) == closed["commitment"]
    assert verify_proof(proof).ok
    cancel = await rewards.set_status(did, "cancelled")
    assert cancel.status_code == 409 and cancel.json()["code"] == "INVALID_TRANSITION"


async def test_cancelling_refunds_every_ticket_exactly_once(rewards: Running) -> None:
    drawing = await rewards.open_drawing(ticket_cost_points=7)
    did = drawing["id"]
    users = await _buyers(rewards, did, [1, 3, 5])
    balances = [(await rewards.wallet(u))["balance"] for u in users]
    assert balances == [3, 9, 15]
    answers = await asyncio.gather(*(rewards.set_status(did, "cancelled") for _ in range(3)))
    assert {a.status_code for a in answers} == {200}
    assert [(await rewards.wallet(u))["balance"] for u in users] == [10, 30, 50]
    page = await rewards.http.get("/internal/v1/wallet/transactions", headers=caller(users[2]))
    assert [t["kind"] for t in page.json()["items"]].count("refund") == 1
    after = await rewards.buy(users[0], did, 1)
    assert after.status_code == 409 and after.json()["code"] == "DRAWING_NOT_OPEN"


async def test_sponsors_create_their_own_drawings_and_nobody_else_does(rewards: Running) -> None:
    stranger = uuid.uuid4()
    body = {
        "name": "Spring",
        "ticket_cost_points": 5,
        "max_tickets_per_user": 10,
        "sales_open_at": rewards.clock().isoformat(),
        "sales_close_at": (rewards.clock() + timedelta(days=1)).isoformat(),
        "drawing_at": (rewards.clock() + timedelta(days=2)).isoformat(),
        "prizes": [{"rank": 1, "name": "Mug", "value": 10, "kind": "physical"}],
    }
    refused = await rewards.http.post("/internal/v1/drawings", json=body, headers=caller(stranger))
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    async with rewards.service.runtime.db.session() as session:
        from podium_rewards import repository

        await repository.add_sponsor(session, stranger)
    made = await rewards.http.post("/internal/v1/drawings", json=body, headers=caller(stranger))
    assert made.status_code == 201, made.text
    did = made.json()["id"]
    other = await rewards.http.patch(
        f"/internal/v1/drawings/{did}", json={"name": "Mine"}, headers=caller(uuid.uuid4())
    )
    assert other.status_code == 404
    hidden = await rewards.http.get(f"/internal/v1/drawings/{did}", headers=caller(uuid.uuid4()))
    assert hidden.status_code == 404  # drafts are seen by their sponsor and admins only
    renamed = await rewards.http.patch(
        f"/internal/v1/drawings/{did}", json={"name": "Mine"}, headers=caller(stranger)
    )
    assert renamed.json()["name"] == "Mine"
    bad = dict(body, drawing_at=(rewards.clock() + timedelta(hours=1)).isoformat())
    invalid = await rewards.http.post("/internal/v1/drawings", json=bad, headers=admin())
    assert invalid.status_code == 422
    assert "Sales close time must be before drawing time" in invalid.text
    # The sponsor does not enter their own drawing.
    await rewards.set_status(did, "scheduled")
    await rewards.service.scheduler.tick()
    await rewards.earn(stranger, 100)
    own = await rewards.buy(stranger, did, 1)
    assert own.status_code == 403 and own.json()["reason"] == "SPONSOR_OF_DRAWING"


async def test_verify_cli_reproduces_a_real_drawing_and_rejects_tampering(
    rewards: Running, tmp_path: Path
) -> None:
    drawing = await rewards.open_drawing(
        prizes=[{"rank": 1, "name": "Trip", "value": 2000, "kind": "physical", "quantity": 2}]
    )
    did = drawing["id"]
    await _buyers(rewards, did, [2, 1, 1, 3, 2])
    assert (await rewards.set_status(did, "closed")).status_code == 200
    done = await rewards.http.post(f"/internal/v1/drawings/{did}/execute", headers=admin())
    assert done.status_code == 200
    proof = (await rewards.http.get(f"/internal/v1/drawings/{did}/proof")).json()
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof))
    ok = await _cli("verify", str(good))
    assert ok[0] == 0 and "OK" in ok[1]
    tampered = dict(proof, tickets=list(reversed(proof["tickets"])))
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered))
    refused = await _cli("verify", str(bad))
    assert refused[0] == 1 and "ticket list does not match" in refused[1]
    swapped = dict(proof, seed="00" * 32)
    bad.write_text(json.dumps(swapped))
    assert "does not match the commitment" in (await _cli("verify", str(bad)))[1]


async def _cli(*args: str) -> tuple[int, str]:
    import sys

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "podium_rewards",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_winners_are_announced_through_the_outbox(rewards: Running) -> None:
    drawing = await rewards.open_drawing(
        prizes=[{"rank": 1, "name": "Code", "value": 5, "kind": "digital", "codes": ["ABC-123"]}]
    )
    did = drawing["id"]
    (winner,) = await _buyers(rewards, did, [1])
    await rewards.set_status(did, "closed")
    await rewards.http.post(f"/internal/v1/drawings/{did}/execute", headers=admin())
    prizes = await rewards.http.get("/internal/v1/fulfillments", headers=caller(winner))
    (prize,) = prizes.json()["items"]
    assert (prize["status"], prize["code"]) == ("delivered", "ABC-123")

    async def relayed() -> bool:
        async with rewards.service.runtime.db.session() as session:
            from podium_rewards.models import messaging
            from podium_runtime.outbox import unsent_events

            return not await unsent_events(session, messaging.outbox)

    await eventually(relayed, message="fulfilment events relayed")


async def test_a_tick_does_nothing_while_another_replica_holds_the_scheduler_lock(
    rewards: Running,
) -> None:
    from podium_rewards import repository
    from podium_rewards.scheduler import LOCK_KEY

    drawing = await rewards.create_drawing()
    await rewards.set_status(drawing["id"], "scheduled")
    rewards.clock.now = datetime.fromisoformat(drawing["sales_open_at"])
    async with rewards.service.runtime.db.session() as other_replica:
        assert await repository.try_scheduler_lock(other_replica, LOCK_KEY)
        assert (await rewards.service.scheduler.tick()).ran is False
        still = await rewards.http.get(f"/internal/v1/drawings/{drawing['id']}", headers=admin())
        assert still.json()["status"] == "scheduled"
    assert (await rewards.service.scheduler.tick()).ran is True
    opened = await rewards.http.get(f"/internal/v1/drawings/{drawing['id']}", headers=admin())
    assert opened.json()["status"] == "open"

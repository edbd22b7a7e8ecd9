"""Wallet ledger and ticket purchases on real Postgres: atomic, idempotent, never negative."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from podium_contracts.events import PointsData
from rewards_harness import Running, admin, caller


async def test_points_are_credited_once_and_revoked_even_after_spending(rewards: Running) -> None:
    user = uuid.uuid4()
    statement = await rewards.earn(user, 12.4)  # whole points, halves up: 12
    data = PointsData(
        user_id=user,
        competition_id=uuid.uuid4(),
        statement_id=statement,
        points=12.4,
        occurred_at=rewards.clock(),
    )
    wallet = await rewards.wallet(user)
    assert wallet["balance"] == 12
    assert wallet["expiring"] == []  # a year away, not "soon"
    drawing = await rewards.open_drawing(ticket_cost_points=5)
    bought = await rewards.buy(user, drawing["id"], 2)
    assert bought.status_code == 201, bought.text
    assert bought.json()["balance"] == 2
    # The statement is voided after 10 of its 12 points were spent: 2 are taken, 10 owed.
    async with rewards.service.runtime.db.session() as session:
        from podium_rewards import repository

        lot = await repository.lot_by_source(session, f"lot:earn:{data.competition_id}:{statement}")
        assert lot is None  # the test's earn() used its own competition id
    async with rewards.service.runtime.db.session() as session:
        await rewards.service.rewards.record_points(session, [(data, False)])
    assert (await rewards.wallet(user))["balance"] == 14
    for _ in range(2):  # a redelivered revocation takes nothing more
        async with rewards.service.runtime.db.session() as session:
            await rewards.service.rewards.record_points(session, [(data, True)])
    wallet = await rewards.wallet(user)
    assert (wallet["balance"], wallet["debt"]) == (2, 0)
    page = await rewards.http.get("/internal/v1/wallet/transactions", headers=caller(user))
    kinds = [(t["kind"], t["points"]) for t in page.json()["items"]]
    assert kinds == [("revoke", -12), ("earn", 12), ("spend", -10), ("earn", 12)]


async def test_a_revocation_beyond_the_balance_becomes_a_debt_settled_by_later_points(
    rewards: Running,
) -> None:
    user = uuid.uuid4()
    competition, statement = uuid.uuid4(), uuid.uuid4()
    data = PointsData(
        user_id=user,
        competition_id=competition,
        statement_id=statement,
        points=30,
        occurred_at=rewards.clock(),
    )
    async with rewards.service.runtime.db.session() as session:
        await rewards.service.rewards.record_points(session, [(data, False)])
    drawing = await rewards.open_drawing(ticket_cost_points=25)
    assert (await rewards.buy(user, drawing["id"], 1)).status_code == 201
    async with rewards.service.runtime.db.session() as session:
        await rewards.service.rewards.record_points(session, [(data, True)])
    wallet = await rewards.wallet(user)
    assert (wallet["balance"], wallet["debt"]) == (0, 25)
    await rewards.earn(user, 40)
    wallet = await rewards.wallet(user)
    assert (wallet["balance"], wallet["debt"]) == (15, 0)


async def test_twenty_concurrent_purchases_with_points_for_seven_buy_exactly_seven(
    rewards: Running,
) -> None:
    user = uuid.uuid4()
    await rewards.earn(user, 70)
    drawing = await rewards.open_drawing(ticket_cost_points=10)
    answers = await asyncio.gather(*(rewards.buy(user, drawing["id"], 1) for _ in range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 7 + [409] * 13
    refused = {a.json()["code"] for a in answers if a.status_code == 409}
    assert refused == {"INSUFFICIENT_POINTS"}
    wallet = await rewards.wallet(user)
    assert wallet["balance"] == 0
    mine = await rewards.http.get(f"/internal/v1/drawings/{drawing['id']}", headers=caller(user))
    assert mine.json()["my_tickets"] == 7 and mine.json()["total_tickets"] == 7
    numbers = sorted(n for a in answers if a.status_code == 201 for n in a.json()["tickets"])
    assert numbers == list(range(1, 8))


async def test_a_purchase_retried_with_the_same_key_buys_once(rewards: Running) -> None:
    user = uuid.uuid4()
    await rewards.earn(user, 100)
    drawing = await rewards.open_drawing(ticket_cost_points=10)
    key = f"tab-{uuid.uuid4()}"
    answers = await asyncio.gather(*(rewards.buy(user, drawing["id"], 3, key) for _ in range(5)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["purchase_id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 4
    assert (await rewards.wallet(user))["balance"] == 70
    other = await rewards.buy(user, drawing["id"], 4, key)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_refusals_each_have_their_own_code(rewards: Running) -> None:
    user, poor = uuid.uuid4(), uuid.uuid4()
    await rewards.earn(user, 1000)
    drawing = await rewards.open_drawing(
        ticket_cost_points=10,
        max_tickets_per_user=3,
        eligibility={"min_age": 18, "regions": ["FR", "US-CA"]},
    )
    did = drawing["id"]
    adult = (rewards.clock().date() - timedelta(days=30 * 365)).isoformat()
    child = (rewards.clock().date() - timedelta(days=12 * 365)).isoformat()

    async def refusal(who: uuid.UUID, quantity: int = 1, **extra: object) -> tuple[int, str, str]:
        got = await rewards.buy(who, did, quantity, **extra)
        body = got.json()
        return got.status_code, body.get("code", ""), body.get("reason", "")

    assert await refusal(user) == (403, "NOT_ELIGIBLE", "BIRTHDATE_REQUIRED")
    assert await refusal(user, birthdate=child) == (403, "NOT_ELIGIBLE", "UNDER_MIN_AGE")
    grown = uuid.uuid4()
    await rewards.earn(grown, 1000)
    assert await refusal(grown, birthdate=adult) == (403, "NOT_ELIGIBLE", "REGION_REQUIRED")
    # A refused purchase changes nothing, the declaration included.
    assert await refusal(grown, region="FR") == (403, "NOT_ELIGIBLE", "BIRTHDATE_REQUIRED")
    assert await refusal(grown, birthdate=adult, region="DE") == (
        403,
        "NOT_ELIGIBLE",
        "REGION_NOT_ALLOWED",
    )
    californian = uuid.uuid4()
    await rewards.earn(californian, 1000)
    ok = await rewards.buy(californian, did, 2, birthdate=adult, region="us-ca")
    assert ok.status_code == 201, ok.text
    assert ok.json()["odds"] == {
        "my_tickets": 2,
        "total_tickets": 2,
        "chance": 1.0,
        "one_in": 1.0,
    }
    assert await refusal(californian, 2) == (409, "TICKET_LIMIT", "")
    assert await refusal(poor, birthdate=adult, region="FR") == (409, "INSUFFICIENT_POINTS", "")
    assert (await rewards.set_status(did, "closed")).status_code == 200
    assert await refusal(californian) == (409, "DRAWING_NOT_OPEN", "")
    assert (await rewards.wallet(californian))["balance"] == 980


async def test_admin_adjustments_are_audited_and_never_overdraw(rewards: Running) -> None:
    user = uuid.uuid4()
    url = f"/internal/v1/wallets/{user}/adjust"
    added = await rewards.http.post(url, json={"points": 50, "reason": "goodwill"}, headers=admin())
    assert added.status_code == 200 and added.json()["balance"] == 50
    too_much = await rewards.http.post(url, json={"points": -60, "reason": "fix"}, headers=admin())
    assert too_much.status_code == 409 and too_much.json()["code"] == "INSUFFICIENT_POINTS"
    taken = await rewards.http.post(url, json={"points": -20, "reason": "fix"}, headers=admin())
    assert taken.json()["balance"] == 30
    by_user = await rewards.http.post(url, json={"points": 5, "reason": "me"}, headers=caller(user))
    assert by_user.status_code == 403
    async with rewards.service.runtime.db.session() as session:
        from podium_rewards import repository

        trail = await repository.audit_entries(session, f"wallet:{user}")
    assert [(t.action, t.details["points"], t.details["reason"]) for t in trail] == [
        ("wallet.adjusted", 50, "goodwill"),
        ("wallet.adjusted", -20, "fix"),
    ]


async def test_points_expire_oldest_first_and_show_as_expiring_soon(rewards: Running) -> None:
    user = uuid.uuid4()
    await rewards.earn(user, 40)
    rewards.clock.advance(days=200)
    await rewards.earn(user, 25)
    rewards.clock.advance(days=150)  # the first lot expires in 15 days
    wallet = await rewards.wallet(user)
    assert [e["points"] for e in wallet["expiring"]] == [40]
    rewards.clock.advance(days=16)
    await rewards.service.scheduler.tick()
    wallet = await rewards.wallet(user)
    assert wallet["balance"] == 25
    page = await rewards.http.get("/internal/v1/wallet/transactions", headers=caller(user))
    assert page.json()["items"][0]["kind"] == "expire"
    assert page.json()["items"][0]["points"] == -40


async def test_transactions_are_paginated_with_a_cursor(rewards: Running) -> None:
    user = uuid.uuid4()
    for points in range(1, 6):
        await rewards.earn(user, points)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await rewards.http.get(
            "/internal/v1/wallet/transactions", params=params, headers=caller(user)
        )
        seen += [t["points"] for t in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    bad = await rewards.http.get(
        "/internal/v1/wallet/transactions", params={"cursor": "%%%"}, headers=caller(user)
    )
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_CURSOR"

"""Rewards end to end through the gateway: points from xAPI to the wallet, drawings, prizes.

A learning tool's statements earn points in an activity competition
(competitions emits `points.awarded`); rewards credits the wallet and takes the
points back when the statement is voided. Then an admin runs a drawing through
the public API, participants buy tickets, the winner is told in-app through
the notifier, gives an address and receives the prize.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from podium_rewards.verify import verify_proof
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.activity import (
    COMPLETED,
    create_activity_competition,
    join_accepted,
    learning_tool,
    post_statements,
)
from platform_support.stack import (
    PLATFORM,
    User,
    run_id,
    serve_competitions,
    serve_gateway,
    serve_identity,
    serve_ingest,
    serve_notifier,
    serve_rewards,
    sign_up,
)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
LESSONS = "https://lessons.example/course-1/"
RULES = {"points": [{"verb": COMPLETED, "activity_prefix": LESSONS, "points": 30}]}


@dataclass
class RewardsStack:
    """The gateway, an admin token and the LRS credentials of a learning tool."""

    http: httpx.AsyncClient
    admin: dict[str, str]
    lrs_auth: dict[str, str]
    #: The LRS client behind `lrs_auth`, which the stack's competitions trust (ADR 0054).
    lrs_client_id: str

    async def sign_up(self) -> User:
        return await sign_up(self.http, f"Learner {uuid.uuid4().hex[:4]}")

    async def activity_competition(self, owner: User) -> str:
        made = await create_activity_competition(self.http, owner, self.lrs_client_id, rules=RULES)
        return str(made["id"])

    async def join(self, competition_id: str, user: User) -> None:
        await join_accepted(self.http, competition_id, user)

    async def complete_lesson(self, user: User, lesson: str) -> str:
        statement = {
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": PLATFORM, "name": user.user_id},
            },
            "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
            "object": {"objectType": "Activity", "id": LESSONS + lesson},
            "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        }
        return (await self.post_statements(statement))[0]

    async def post_statements(self, *statements: dict[str, Any]) -> list[str]:
        return await post_statements(self.http, self.lrs_auth, *statements)

    async def balance_is(self, user: User, balance: int, timeout: float = 60) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            got = await self.http.get("/v1/wallet", headers=user.auth)
            assert got.status_code == 200, got.text
            return got.json() if got.json()["balance"] == balance else None

        return await eventually(reached, timeout=timeout, message=f"balance {balance}")

    async def grant(self, user: User, points: int) -> None:
        got = await self.http.post(
            f"/v1/admin/wallets/{user.user_id}/adjust",
            json={"points": points, "reason": "test grant"},
            headers=self.admin,
        )
        assert got.status_code == 200, got.text

    async def open_drawing(self, **fields: Any) -> str:
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "name": f"Sweepstakes {uuid.uuid4().hex[:6]}",
            "ticket_cost_points": 10,
            "max_tickets_per_user": 50,
            "sales_open_at": (now - timedelta(minutes=1)).isoformat(),
            "sales_close_at": (now + timedelta(days=1)).isoformat(),
            "drawing_at": (now + timedelta(days=1, hours=1)).isoformat(),
            "prizes": [{"rank": 1, "name": "Fitness watch", "value": 250, "kind": "physical"}],
            **fields,
        }
        made = await self.http.post("/v1/admin/drawings", json=body, headers=self.admin)
        assert made.status_code == 201, made.text
        did = str(made.json()["id"])
        for status in ("scheduled", "open"):
            moved = await self.http.patch(
                f"/v1/admin/drawings/{did}", json={"status": status}, headers=self.admin
            )
            assert moved.status_code == 200, moved.text
        return did


@contextlib.asynccontextmanager
async def rewards_stack(test_infra: TestInfrastructure, tmp: Path) -> AsyncIterator[RewardsStack]:
    """Run identity, competitions, ingest, rewards, notifier and the gateway."""
    await test_infra.migrate("identity", "competitions", "ingest", "rewards", "notifier")
    run = run_id()
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run)
        competitions = await serve_competitions(stack, test_infra, db_pool_size=10)
        ingest = await serve_ingest(stack, test_infra, platform_url=PLATFORM)
        rewards = await serve_rewards(stack, test_infra, db_pool_size=30)
        notifier, _ = await serve_notifier(stack, test_infra, tmp)
        _, http = await serve_gateway(
            stack,
            test_infra,
            run,
            identity_url=identity,
            competitions_url=competitions,
            ingest_url=ingest,
            rewards_url=rewards,
            notifier_url=notifier,
            public_base_url=PLATFORM,
            rate_limit_lrs_client=1_000_000,
        )
        admin_token, tool = await learning_tool(http, "lesson player", ["statements/write"])
        yield RewardsStack(
            http, {"Authorization": f"Bearer {admin_token}"}, tool.auth, tool.client_id
        )


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RewardsStack]:
    async with rewards_stack(test_infra, tmp_path_factory.mktemp("rewards")) as running:
        yield running


async def test_points_from_statements_reach_the_wallet_and_voiding_takes_them_back(
    stack: RewardsStack,
) -> None:
    owner, learner = await stack.sign_up(), await stack.sign_up()
    competition = await stack.activity_competition(owner)
    await stack.join(competition, learner)
    first = await stack.complete_lesson(learner, "lesson-1")
    await stack.complete_lesson(learner, "lesson-2")
    await stack.balance_is(learner, 60, timeout=90)
    await stack.post_statements(
        {
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": PLATFORM, "name": learner.user_id},
            },
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": first},
        }
    )
    await stack.balance_is(learner, 30)
    ledger = await stack.http.get("/v1/wallet/transactions", headers=learner.auth)
    assert [(t["kind"], t["points"]) for t in ledger.json()["items"]] == [
        ("revoke", -30),
        ("earn", 30),
        ("earn", 30),
    ]
    anonymous = await stack.http.get("/v1/wallet")
    assert anonymous.status_code == 401


async def test_sponsors_are_competition_owners(stack: RewardsStack) -> None:
    owner, learner = await stack.sign_up(), await stack.sign_up()
    now = datetime.now(UTC)
    body = {
        "name": "Owner's sweepstakes",
        "ticket_cost_points": 5,
        "max_tickets_per_user": 5,
        "sales_open_at": now.isoformat(),
        "sales_close_at": (now + timedelta(days=1)).isoformat(),
        "drawing_at": (now + timedelta(days=2)).isoformat(),
        "prizes": [{"rank": 1, "name": "Mug", "value": 12, "kind": "physical"}],
    }
    refused = await stack.http.post("/v1/admin/drawings", json=body, headers=owner.auth)
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    await stack.activity_competition(owner)  # competition.created makes the owner a sponsor

    async def created() -> dict[str, Any] | None:
        got = await stack.http.post("/v1/admin/drawings", json=body, headers=owner.auth)
        return got.json() if got.status_code == 201 else None

    drawing = await eventually(created, timeout=60, message="sponsor creates a drawing")
    assert drawing["sponsor_id"] == owner.user_id and drawing["status"] == "draft"
    assert (
        await stack.http.get(f"/v1/drawings/{drawing['id']}", headers=learner.auth)
    ).status_code == 404
    mine = await stack.http.get(
        "/v1/admin/drawings", params={"status": "draft"}, headers=owner.auth
    )
    assert [d["id"] for d in mine.json()["items"]] == [drawing["id"]]
    by_learner = await stack.http.post("/v1/admin/drawings", json=body, headers=learner.auth)
    assert by_learner.status_code == 403


async def test_rewards_routes_are_documented_with_named_models(stack: RewardsStack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    buy = spec["paths"]["/v1/drawings/{drawing_id}/tickets"]["post"]
    assert buy["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Purchase"
    }
    assert any(p["name"] == "Idempotency-Key" for p in buy["parameters"])
    for path in (
        "/v1/wallet",
        "/v1/wallet/transactions",
        "/v1/drawings",
        "/v1/drawings/{drawing_id}/proof",
        "/v1/drawings/{drawing_id}/results",
        "/v1/tickets",
        "/v1/fulfillments",
        "/v1/fulfillments/{fulfillment_id}/address",
        "/v1/admin/drawings/{drawing_id}/execute",
        "/v1/admin/fulfillments/{fulfillment_id}/ship",
        "/v1/admin/wallets/{user_id}/adjust",
    ):
        assert path in spec["paths"], path
    assert {"Wallet", "Drawing", "Proof", "Results", "Fulfillment"} <= set(
        spec["components"]["schemas"]
    )


async def test_concurrent_purchases_through_the_gateway_never_overspend(
    stack: RewardsStack,
) -> None:
    buyer = await stack.sign_up()
    await stack.grant(buyer, 70)
    did = await stack.open_drawing()
    answers = await asyncio.gather(
        *(
            stack.http.post(f"/v1/drawings/{did}/tickets", json={"quantity": 1}, headers=buyer.auth)
            for _ in range(20)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] * 7 + [409] * 13
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"INSUFFICIENT_POINTS"}
    assert (await stack.balance_is(buyer, 0))["balance"] == 0
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    await stack.grant(buyer, 30)
    twice = [
        await stack.http.post(
            f"/v1/drawings/{did}/tickets", json={"quantity": 2}, headers={**buyer.auth, **key}
        )
        for _ in range(2)
    ]
    assert [t.status_code for t in twice] == [201, 201]
    assert twice[0].json() == twice[1].json()
    assert twice[1].headers["Idempotent-Replayed"] == "true"
    await stack.balance_is(buyer, 10)
    mine = await stack.http.get("/v1/tickets", headers=buyer.auth)
    assert mine.json()["items"][0]["count"] == 9


async def test_a_drawing_from_sales_to_a_delivered_prize(stack: RewardsStack) -> None:
    buyers = [await stack.sign_up() for _ in range(3)]
    for buyer in buyers:
        await stack.grant(buyer, 100)
    did = await stack.open_drawing(eligibility={"min_age": 18})
    young = await stack.http.post(
        f"/v1/drawings/{did}/tickets",
        json={"quantity": 1, "birthdate": "2020-01-01"},
        headers=buyers[0].auth,
    )
    assert young.status_code == 403
    assert (young.json()["code"], young.json()["reason"]) == ("NOT_ELIGIBLE", "UNDER_MIN_AGE")
    for count, buyer in zip((1, 2, 3), buyers, strict=True):
        bought = await stack.http.post(
            f"/v1/drawings/{did}/tickets",
            json={"quantity": count, "birthdate": "1990-05-17"},
            headers=buyer.auth,
        )
        assert bought.status_code == 201, bought.text
    details = await stack.http.get(f"/v1/drawings/{did}", headers=buyers[2].auth)
    assert details.json()["odds"] == {
        "my_tickets": 3,
        "total_tickets": 6,
        "chance": 0.5,
        "one_in": 2.0,
    }
    by_user = await stack.http.post(f"/v1/admin/drawings/{did}/execute", headers=buyers[0].auth)
    assert by_user.status_code == 403
    closed = await stack.http.patch(
        f"/v1/admin/drawings/{did}", json={"status": "closed"}, headers=stack.admin
    )
    assert closed.json()["status"] == "closed" and closed.json()["commitment"]
    executed = await stack.http.post(f"/v1/admin/drawings/{did}/execute", headers=stack.admin)
    assert executed.status_code == 200, executed.text
    (winner_row,) = executed.json()["winners"]
    winner = next(b for b in buyers if b.user_id == winner_row["user_id"])
    assert winner_row["display_name"] == winner.display_name
    public = await stack.http.get(f"/v1/drawings/{did}/results")
    assert public.json() == executed.json()
    proof = await stack.http.get(f"/v1/drawings/{did}/proof")
    assert proof.json()["seed"] and verify_proof(proof.json()).ok

    async def told() -> list[dict[str, Any]] | None:
        got = await stack.http.get("/v1/notifications", headers=winner.auth)
        items = [i for i in got.json()["items"] if i["type"] == "rewards.prize"]
        return items or None

    (notice,) = await eventually(told, timeout=60, message="winner notified")
    assert notice["title"] == "You won Fitness watch!"
    (prize,) = (await stack.http.get("/v1/fulfillments", headers=winner.auth)).json()["items"]
    loser = next(b for b in buyers if b is not winner)
    address = {
        "name": "Ada Lovelace",
        "line1": "1 Main Street",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    }
    stolen = await stack.http.put(
        f"/v1/fulfillments/{prize['id']}/address", json=address, headers=loser.auth
    )
    assert stolen.status_code == 404
    given = await stack.http.put(
        f"/v1/fulfillments/{prize['id']}/address", json=address, headers=winner.auth
    )
    assert given.json()["status"] == "address_confirmed"
    listed = await stack.http.get("/v1/admin/fulfillments", headers=stack.admin)
    assert prize["id"] in {f["id"] for f in listed.json()["items"]}
    assert (await stack.http.get("/v1/admin/fulfillments", headers=winner.auth)).status_code == 403
    shipped = await stack.http.post(
        f"/v1/admin/fulfillments/{prize['id']}/ship",
        json={"carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
        headers=stack.admin,
    )
    assert shipped.json()["status"] == "shipped"
    delivered = await stack.http.patch(
        f"/v1/admin/fulfillments/{prize['id']}", json={"status": "delivered"}, headers=stack.admin
    )
    assert delivered.json()["status"] == "delivered"

    async def all_told() -> list[str] | None:
        got = await stack.http.get("/v1/notifications", headers=winner.auth)
        titles = [i["title"] for i in got.json()["items"] if i["type"] == "rewards.prize"]
        return titles if len(titles) == 3 else None

    titles = await eventually(all_told, timeout=60, message="shipping and delivery notices")
    assert set(titles) == {
        "You won Fitness watch!",
        "Your prize is on its way",
        "Your prize: Fitness watch",
    }

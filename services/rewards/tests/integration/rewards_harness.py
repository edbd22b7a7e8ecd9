"""Helpers of the rewards integration tests: a running service, callers, points, drawings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from podium_contracts.events import PointsAwarded, PointsData
from podium_rewards.app import RewardsService
from podium_runtime.outbox import new_event

ADMIN = uuid.uuid4()


class FrozenClock:
    """A clock the test sets by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move time forward."""
        self.now += timedelta(**delta)


def caller(user_id: uuid.UUID, role: str = "user") -> dict[str, str]:
    """The headers by which the gateway names the caller."""
    return {"X-Podium-User-Id": str(user_id), "X-Podium-User-Role": role}


def admin() -> dict[str, str]:
    """Headers of an administrator."""
    return caller(ADMIN, "admin")


@dataclass
class Running:
    """A started rewards service, its URL, a client and the frozen clock."""

    service: RewardsService
    url: str
    http: httpx.AsyncClient
    clock: FrozenClock

    async def earn(self, user_id: uuid.UUID, points: float) -> uuid.UUID:
        """Credit points as competitions' event would, directly through the service."""
        statement_id = uuid.uuid4()
        event = new_event(
            PointsAwarded,
            "competitions",
            PointsData(
                user_id=user_id,
                competition_id=uuid.uuid4(),
                statement_id=statement_id,
                points=points,
                occurred_at=self.clock(),
            ),
        )
        async with self.service.runtime.db.session() as session:
            await self.service.rewards.record_points(session, [(event.data, False)])
        return statement_id

    async def wallet(self, user_id: uuid.UUID) -> dict[str, Any]:
        """GET the user's wallet."""
        got = await self.http.get("/internal/v1/wallet", headers=caller(user_id))
        assert got.status_code == 200, got.text
        return got.json()  # type: ignore[no-any-return]

    async def create_drawing(self, **fields: Any) -> dict[str, Any]:
        """Create a draft drawing as an admin: sales open in 1 h, close in 1 day."""
        now = self.clock()
        body: dict[str, Any] = {
            "name": f"Drawing {uuid.uuid4().hex[:6]}",
            "description": "test drawing",
            "ticket_cost_points": 10,
            "max_tickets_per_user": 100,
            "sales_open_at": (now + timedelta(hours=1)).isoformat(),
            "sales_close_at": (now + timedelta(days=1)).isoformat(),
            "drawing_at": (now + timedelta(days=1, hours=1)).isoformat(),
            "prizes": [{"rank": 1, "name": "Watch", "value": 120, "kind": "physical"}],
        }
        body.update(fields)
        made = await self.http.post("/internal/v1/drawings", json=body, headers=admin())
        assert made.status_code == 201, made.text
        return made.json()  # type: ignore[no-any-return]

    async def set_status(self, drawing_id: str, status: str) -> httpx.Response:
        """PATCH a drawing's status as an admin."""
        return await self.http.patch(
            f"/internal/v1/drawings/{drawing_id}", json={"status": status}, headers=admin()
        )

    async def open_drawing(self, **fields: Any) -> dict[str, Any]:
        """Create a drawing and open its sales now (schedule, then the clock passes its start)."""
        drawing = await self.create_drawing(**fields)
        assert (await self.set_status(drawing["id"], "scheduled")).status_code == 200
        self.clock.now = datetime.fromisoformat(drawing["sales_open_at"])
        await self.service.scheduler.tick()
        got = await self.http.get(f"/internal/v1/drawings/{drawing['id']}", headers=admin())
        assert got.json()["status"] == "open", got.text
        return got.json()  # type: ignore[no-any-return]

    async def buy(
        self,
        user_id: uuid.UUID,
        drawing_id: str,
        quantity: int,
        key: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        """POST a ticket purchase."""
        headers = caller(user_id)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(
            f"/internal/v1/drawings/{drawing_id}/tickets",
            json={"quantity": quantity, **extra},
            headers=headers,
        )

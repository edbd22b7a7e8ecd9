"""Start identity, competitions and the gateway on real infrastructure; sign users in."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from platform_support.stack import (
    User,
    login,
    run_id,
    serve_competitions,
    serve_gateway,
    serve_identity,
    sign_up,
)
from podium_runtime.testing import TestInfrastructure, eventually


@dataclass
class CompetitionsStack:
    """The gateway URL, a client on it, and the topic prefix of this run."""

    gateway: str
    http: httpx.AsyncClient
    topic_prefix: str
    bootstrap_servers: str

    async def sign_up(self, display_name: str | None = None) -> User:
        """Register and log in a new user through the gateway."""
        return await sign_up(self.http, display_name or f"Player {uuid.uuid4().hex[:6]}")

    async def sign_up_many(self, count: int) -> list[User]:
        """Register and log in `count` users, a few at a time."""
        gate = asyncio.Semaphore(8)

        async def one() -> User:
            async with gate:
                return await self.sign_up()

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def login(self, email: str, password: str) -> str:
        """Return an access token."""
        return await login(self.http, email, password)

    async def create(self, owner: User, **fields: Any) -> dict[str, Any]:
        """Create a competition (active, starting tomorrow unless told otherwise)."""
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "kind": "prediction",
            "metric": "auc_roc",
            "title": f"Competition {uuid.uuid4().hex[:8]}",
            "status": "active",
            "starts_at": (now + timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
        }
        body.update(fields)
        made = await self.http.post("/v1/competitions", json=body, headers=owner.auth)
        assert made.status_code == 201, made.text
        return made.json()  # type: ignore[no-any-return]

    async def enrollment(self, competition_id: str, user: User) -> dict[str, Any]:
        """Return the caller's enrollment answer (status code and body)."""
        got = await self.http.get(
            f"/v1/competitions/{competition_id}/enrollment", headers=user.auth
        )
        return {"http_status": got.status_code, **got.json()}

    async def decided(
        self, competition_id: str, user: User, timeout: float = 2.0
    ) -> dict[str, Any]:
        """Await the end of `pending` for the caller's enrollment (SPEC: within 2 s)."""

        async def done() -> dict[str, Any] | None:
            answer = await self.enrollment(competition_id, user)
            return answer if answer.get("status") not in (None, "pending") else None

        return await eventually(done, timeout=timeout, interval=0.02, message="join decided")

    async def join(
        self,
        competition_id: str,
        user: User,
        invite_code: str | None = None,
        timeout: float = 2.0,
    ) -> dict[str, Any]:
        """Ask to join (202), then await the decision."""
        body = {"invite_code": invite_code} if invite_code else None
        asked = await self.http.post(
            f"/v1/competitions/{competition_id}/join", json=body, headers=user.auth
        )
        assert asked.status_code == 202, asked.text
        return await self.decided(competition_id, user, timeout)


@contextlib.asynccontextmanager
async def competitions_stack(
    test_infra: TestInfrastructure, tmp: Path
) -> AsyncIterator[CompetitionsStack]:
    """Run gateway -> Kafka -> competitions, with identity for accounts and tokens."""
    await test_infra.migrate("identity", "competitions")
    run = run_id()
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run)
        competitions = await serve_competitions(
            stack, test_infra, auto_end_interval_seconds=0.2, db_pool_size=10
        )
        gateway, http = await serve_gateway(
            stack, test_infra, run, identity_url=identity, competitions_url=competitions
        )
        running = CompetitionsStack(
            gateway, http, test_infra.topic_prefix, test_infra.infra.kafka_bootstrap_servers
        )
        # The competitions consumer group joins once (about 5 s on tansu); wait for it here.
        owner, player = await running.sign_up(), await running.sign_up()
        warm = await running.create(owner)
        await running.join(warm["id"], player, timeout=60)
        yield running

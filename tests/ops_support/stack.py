"""Run identity, competitions, scoring, ingest, notifier and the gateway on real infrastructure.

The operations suites (data tools, personal data) look across every service,
so they need all of them; each helper drives the public API.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
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
    serve_scoring,
    sign_up,
)
from podium_runtime.blobs import BlobSettings
from podium_runtime.testing import TestInfrastructure

LESSONS = "https://lessons.example/ops/"
RULES = {
    "points": [{"verb": COMPLETED, "activity_prefix": LESSONS, "points": 10}],
    "daily_goal_verb": COMPLETED,
}


@dataclass
class OpsStack:
    """The gateway, the admin's header, LRS credentials and the services' URLs."""

    url: str
    http: httpx.AsyncClient
    admin: dict[str, str]
    lrs_auth: dict[str, str]
    services: dict[str, str]
    database_url: str
    #: The LRS client behind `lrs_auth`, which the stack's competitions trust (ADR 0054).
    lrs_client_id: str
    #: The local blob store's directory (uploads, exports).
    blob_dir: Path

    async def sign_up(self, name: str | None = None, timezone: str = "UTC") -> User:
        """Register and log in a user."""
        return await sign_up(self.http, name or f"Ops {uuid.uuid4().hex[:6]}", timezone)

    async def activity_competition(self, owner: User, **fields: Any) -> dict[str, Any]:
        """Create an active activity competition with a daily goal, started days ago."""
        return await create_activity_competition(
            self.http,
            owner,
            self.lrs_client_id,
            started=timedelta(days=5),
            **({"title": "Ops sprint", "rules": RULES} | fields),
        )

    async def join(self, competition_id: str, user: User) -> None:
        """Join and await acceptance."""
        await join_accepted(self.http, competition_id, user)

    async def post_statements(self, *statements: dict[str, Any]) -> list[str]:
        """POST statements as the learning tool; return their ids."""
        return await post_statements(self.http, self.lrs_auth, *statements)


def completed(user: User, lesson: str = "lesson-1", **extra: Any) -> dict[str, Any]:
    """A statement by a platform user (account actor) completing a lesson now."""
    return {
        "actor": {"account": {"homePage": PLATFORM, "name": user.user_id}, "name": "L"},
        "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": LESSONS + lesson},
        "timestamp": datetime.now(UTC).isoformat(),
        **extra,
    }


@contextlib.asynccontextmanager
async def ops_stack(
    test_infra: TestInfrastructure, tmp: Path, *, with_rewards: bool = False
) -> AsyncIterator[OpsStack]:
    """All six services (`with_rewards`: seven), migrated, with an admin signed in and LRS
    credentials made."""
    await test_infra.migrate()
    run = run_id()
    blobs = BlobSettings(backend="local", dir=tmp / "blobs")
    async with contextlib.AsyncExitStack() as stack:
        services = {
            "identity": await serve_identity(stack, test_infra, tmp, run),
            "competitions": await serve_competitions(stack, test_infra),
            "scoring": await serve_scoring(stack, test_infra, blob=blobs),
            "ingest": await serve_ingest(stack, test_infra, platform_url=PLATFORM),
            "notifier": (await serve_notifier(stack, test_infra, tmp))[0],
        }
        if with_rewards:
            services["rewards"] = await serve_rewards(stack, test_infra)
        url, http = await serve_gateway(
            stack,
            test_infra,
            run,
            **{f"{name}_url": address for name, address in services.items()},
            public_base_url=PLATFORM,
            blob=blobs,
        )
        token, tool = await learning_tool(http, "ops tool", ["statements/write", "statements/read"])
        yield OpsStack(
            url,
            http,
            {"Authorization": f"Bearer {token}"},
            tool.auth,
            services,
            test_infra.database_url,
            tool.client_id,
            tmp / "blobs",
        )

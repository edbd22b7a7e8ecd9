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
from platform_support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    User,
    login,
    lrs_client,
    run_id,
    serve_gateway,
    serve_identity,
    sign_up,
    trust_lrs_clients,
)
from podium_runtime.blobs import BlobSettings
from podium_runtime.infra import free_port
from podium_runtime.testing import TestInfrastructure, eventually, serve

PLATFORM = "https://podium.test"
XAPI_VERSION = {"X-Experience-API-Version": "1.0.3"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
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
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "kind": "activity",
            "title": f"Ops sprint {uuid.uuid4().hex[:6]}",
            "status": "active",
            "late_join": True,
            "starts_at": (now - timedelta(days=5)).isoformat(),
            "ends_at": (now + timedelta(days=20)).isoformat(),
            "rules": RULES,
            **fields,
        }
        made = await self.http.post("/v1/competitions", json=body, headers=owner.auth)
        assert made.status_code == 201, made.text
        await trust_lrs_clients(self.http, owner.auth, made.json()["id"], self.lrs_client_id)
        return made.json()  # type: ignore[no-any-return]

    async def join(self, competition_id: str, user: User) -> None:
        """Join and await acceptance."""
        asked = await self.http.post(f"/v1/competitions/{competition_id}/join", headers=user.auth)
        assert asked.status_code == 202, asked.text

        async def accepted() -> bool:
            got = await self.http.get(
                f"/v1/competitions/{competition_id}/enrollment", headers=user.auth
            )
            return got.status_code == 200 and got.json()["status"] == "accepted"

        await eventually(accepted, timeout=60, message="join accepted")

    async def post_statements(self, *statements: dict[str, Any]) -> list[str]:
        """POST statements as the learning tool; return their ids."""
        sent = await self.http.post(
            "/xapi/statements", json=list(statements), headers={**self.lrs_auth, **XAPI_VERSION}
        )
        assert sent.status_code == 200, sent.text
        return sent.json()  # type: ignore[no-any-return]


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
    from podium_competitions.app import create_api as competitions_api
    from podium_competitions.config import Settings as CompetitionsSettings
    from podium_ingest.app import create_api as ingest_api
    from podium_ingest.config import Settings as IngestSettings
    from podium_notifier.app import build_app, create_service
    from podium_notifier.config import Settings as NotifierSettings
    from podium_scoring.app import create_api as scoring_api
    from podium_scoring.config import Settings as ScoringSettings

    await test_infra.migrate()
    run = run_id()
    blobs = BlobSettings(backend="local", dir=tmp / "blobs")
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run)
        competitions = await stack.enter_async_context(
            serve(competitions_api(test_infra.settings(CompetitionsSettings)))
        )
        scoring = await stack.enter_async_context(
            serve(scoring_api(test_infra.settings(ScoringSettings, blob=blobs)))
        )
        ingest = await stack.enter_async_context(
            serve(ingest_api(test_infra.settings(IngestSettings, platform_url=PLATFORM)))
        )
        notifier_service = create_service(
            test_infra.settings(
                NotifierSettings,
                public_base_url=PLATFORM,
                scheduler_enabled=False,
                email_poll_seconds=0.2,
                # E-mail goes to the development sink, as under `make dev`.
                dev_smtp_sink=True,
                dev_mail_dir=tmp / "mails",
                smtp_port=free_port(),
            )
        )
        notifier = await stack.enter_async_context(serve(build_app(notifier_service)))
        if with_rewards:
            from podium_rewards.app import create_api as rewards_api
            from podium_rewards.config import Settings as RewardsSettings

            rewards_settings = test_infra.settings(RewardsSettings, scheduler_enabled=False)
            rewards = await stack.enter_async_context(serve(rewards_api(rewards_settings)))
        services = {
            "identity": identity,
            "competitions": competitions,
            "scoring": scoring,
            "ingest": ingest,
            "notifier": notifier,
            **({"rewards": rewards} if with_rewards else {}),
        }
        url, http = await serve_gateway(
            stack,
            test_infra,
            run,
            **{f"{name}_url": address for name, address in services.items()},
            public_base_url=PLATFORM,
            blob=blobs,
        )
        token = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        tool = await lrs_client(http, token, "ops tool", ["statements/write", "statements/read"])
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

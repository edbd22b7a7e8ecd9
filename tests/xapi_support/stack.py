"""Run identity, ingest and gateways on real infrastructure; create LRS credentials."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from platform_support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    login,
    lrs_client,
    serve_identity,
    serve_ingest,
)
from platform_support.stack import XAPI_VERSION as VERSION
from podium_runtime.testing import TestInfrastructure, eventually, serve


@dataclass
class LrsStack:
    """URLs of the running services and a ready LRS client per scope set."""

    gateways: list[str]
    ingest: str
    database_url: str
    credentials: dict[str, str] = field(default_factory=dict)
    #: Bearer token of the platform admin.
    admin_token: str = ""
    #: The settings each gateway runs with (tests may change per-client limits).
    gateway_settings: list[Any] = field(default_factory=list)

    def headers(self, who: str = "writer", **extra: str) -> dict[str, str]:
        """Return Basic auth and version headers for the named client."""
        return {"Authorization": self.credentials[who], **VERSION, **extra}


async def create_lrs_client(
    gateway: str, token: str, name: str, scopes: list[str]
) -> tuple[str, str]:
    """Create LRS credentials with the admin API; return (client id, Basic header)."""
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        made = await lrs_client(client, token, name, scopes)
    return made.client_id, made.auth["Authorization"]


async def _lrs_client(gateway: str, token: str, name: str, scopes: list[str]) -> str:
    return (await create_lrs_client(gateway, token, name, scopes))[1]


@contextlib.asynccontextmanager
async def lrs_stack(
    test_infra: TestInfrastructure, tmp: Path, gateways: int = 1, **gateway_overrides: Any
) -> AsyncIterator[LrsStack]:
    """Run the LRS path end to end: gateway(s) -> Kafka -> ingest, with identity for auth."""
    from podium_gateway.app import create_api as gateway_api
    from podium_gateway.config import Settings as GatewaySettings
    from podium_runtime.blobs import BlobSettings

    await test_infra.migrate("identity", "ingest")
    run = uuid.uuid4().hex[:8]
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run)
        # Ingest writes the stored-ids index under the gateway's prefix (ADR 0059).
        ingest = await serve_ingest(stack, test_infra, gateway_redis_key_prefix=f"t{run}:gateway:")
        urls = []
        settings_used: list[Any] = []
        for _ in range(gateways):
            settings = test_infra.settings(
                GatewaySettings,
                identity_url=identity,
                ingest_url=ingest,
                redis_key_prefix=f"t{run}:gateway:",
                rate_limit_lrs_client=1_000_000,
                rate_limit_ip=1_000_000,
                internal_timeout_seconds=25.0,  # as in platform_support.stack
                **{"blob": BlobSettings(dir=tmp / "blobs"), **gateway_overrides},
            )
            settings_used.append(settings)
            urls.append(await stack.enter_async_context(serve(gateway_api(settings))))
        # Password hashing is slow by design: give a loaded machine time to answer.
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
            token = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        lrs = LrsStack(
            urls, ingest, test_infra.database_url, admin_token=token, gateway_settings=settings_used
        )
        lrs.credentials["writer"] = await _lrs_client(
            urls[0], token, "tool", ["statements/write", "statements/read"]
        )
        lrs.credentials["reader"] = await _lrs_client(urls[0], token, "reader", ["statements/read"])
        lrs.credentials["mine"] = await _lrs_client(
            urls[0], token, "own-reader", ["statements/write", "statements/read/mine"]
        )
        lrs.credentials["documents"] = await _lrs_client(
            urls[0], token, "course-player", ["state", "profile"]
        )
        lrs.credentials["all"] = await _lrs_client(urls[0], token, "everything", ["all"])
        await _consumer_ready(lrs)
        yield lrs


async def _consumer_ready(lrs: LrsStack) -> None:
    """Wait until ingest's consumer group joined: a probe statement becomes readable."""
    probe = statement(verb="http://podium.test/verbs/probed")
    async with httpx.AsyncClient(
        base_url=lrs.gateways[0], headers=lrs.headers(), timeout=30
    ) as client:
        response = await client.post("/xapi/statements", json=probe)
        assert response.status_code == 200, response.text
        (probe_id,) = response.json()

        async def readable() -> bool:
            got = await client.get("/xapi/statements", params={"statementId": probe_id})
            return got.status_code == 200

        await eventually(readable, timeout=60, message="ingest consumes statements")


def statement(
    *,
    actor: dict[str, Any] | None = None,
    verb: str = "http://adlnet.gov/expapi/verbs/completed",
    activity: str = "http://podium.test/activities/lesson-1",
    **extra: Any,
) -> dict[str, Any]:
    """Build a valid statement; keyword arguments add or replace top-level properties."""
    return {
        "actor": actor or {"mbox": f"mailto:{uuid.uuid4().hex[:12]}@podium.test", "name": "L"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
        **extra,
    }

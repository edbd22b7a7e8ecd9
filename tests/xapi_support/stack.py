"""Run identity, ingest and gateways on real infrastructure; create LRS credentials."""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from podium_runtime.testing import TestInfrastructure, eventually, serve

ADMIN_EMAIL = "lrs-admin@example.com"
ADMIN_PASSWORD = "Correct-Horse-Battery-42"  # dev-only test credential
VERSION = {"X-Experience-API-Version": "1.0.3"}


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
        response = await client.post(
            "/v1/admin/lrs-clients",
            json={"name": name, "scopes": scopes},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    basic = "Basic " + base64.b64encode(f"{body['key']}:{body['secret']}".encode()).decode()
    return body["id"], basic


async def _lrs_client(gateway: str, token: str, name: str, scopes: list[str]) -> str:
    return (await create_lrs_client(gateway, token, name, scopes))[1]


@contextlib.asynccontextmanager
async def lrs_stack(
    test_infra: TestInfrastructure, tmp: Path, gateways: int = 1, **gateway_overrides: Any
) -> AsyncIterator[LrsStack]:
    """Run the LRS path end to end: gateway(s) -> Kafka -> ingest, with identity for auth."""
    from podium_gateway.app import create_api as gateway_api
    from podium_gateway.config import Settings as GatewaySettings
    from podium_identity.app import create_api as identity_api
    from podium_identity.config import Settings as IdentitySettings
    from podium_ingest.app import create_api as ingest_api
    from podium_ingest.config import Settings as IngestSettings
    from podium_runtime.blobs import BlobSettings

    await test_infra.migrate("identity", "ingest")
    run = uuid.uuid4().hex[:8]
    identity_settings = test_infra.settings(
        IdentitySettings,
        jwt_keys_dir=tmp / "keys",
        jwt_generate_missing_key=True,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        redis_key_prefix=f"t{run}:identity:",
    )
    async with contextlib.AsyncExitStack() as stack:
        identity = await stack.enter_async_context(serve(identity_api(identity_settings)))
        ingest = await stack.enter_async_context(
            serve(
                ingest_api(
                    # Ingest writes the stored-ids index under the gateway's prefix (ADR 0059).
                    test_infra.settings(IngestSettings, gateway_redis_key_prefix=f"t{run}:gateway:")
                )
            )
        )
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
                **{"blob": BlobSettings(dir=tmp / "blobs"), **gateway_overrides},
            )
            settings_used.append(settings)
            urls.append(await stack.enter_async_context(serve(gateway_api(settings))))
        # Password hashing is slow by design: give a loaded machine time to answer.
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
            login = await client.post(
                "/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
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
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as client:
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

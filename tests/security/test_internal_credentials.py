"""Replay: forged caller headers sent straight to every internal service (ADR 0053).

The attack (issue 13): internal services believed `X-Podium-User-*` from any
caller that reached them, so a pod inside the cluster, a port-forward or a
misrouted ingress could act as any user or as an admin. Here each internal
service runs on real infrastructure and receives, on an internal route,
forged caller headers with no credential, a garbage one, one signed with
another key, an expired one, and captured valid ones replayed with another
role or on another path. Every attempt must be refused with a 401 problem;
none may succeed or answer 500. A request the gateway signs still works.
"""

from __future__ import annotations

import contextlib
import importlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from podium_runtime.service_credentials import HEADER, auth_for, sign, signing_key
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import TestInfrastructure, serve

from security.tally import Tally

pytestmark = pytest.mark.slow

TALLY = Tally()

USER = uuid.uuid4()
ADMIN = {"X-Podium-User-Id": str(USER), "X-Podium-User-Role": "admin"}
AS_USER = {"X-Podium-User-Id": str(USER), "X-Podium-User-Role": "user"}

#: For each internal service, internal routes an attacker would call as someone else.
TARGETS = {
    "identity": [f"/internal/users/{USER}/access", "/internal/ops/summary"],
    "competitions": ["/internal/v1/competitions?limit=5", "/internal/ops/summary"],
    "scoring": [f"/internal/competitions/{USER}/submissions?limit=5", "/internal/ops/summary"],
    "ingest": [f"/internal/reports/learners/{USER}/activity", "/internal/ops/summary"],
    "notifier": [f"/internal/users/{USER}/notifications", "/internal/ops/summary"],
    "rewards": ["/internal/v1/wallet", "/internal/ops/summary"],
}


@dataclass(frozen=True)
class Attempt:
    """One forged request: which service, how it was forged, and the answer."""

    service: str
    path: str
    forgery: str
    status: int
    code: str


@pytest.fixture(scope="module")
async def services(test_infra: TestInfrastructure) -> AsyncIterator[dict[str, str]]:
    """Every internal service, migrated and serving on a local port."""
    await test_infra.migrate()
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for name in TARGETS:
            config = importlib.import_module(f"podium_{name}.config")
            app = importlib.import_module(f"podium_{name}.app")
            urls[name] = await stack.enter_async_context(
                serve(app.create_api(test_infra.settings(config.Settings)))
            )
        yield urls
    print("\n" + TALLY.table(), flush=True)


def _forgeries(path: str, key: bytes) -> dict[str, dict[str, str]]:
    """Every way of stating the admin caller without a credential the gateway signed now."""
    other_key = secrets.token_bytes(32)
    captured_user = sign(key, "GET", path, AS_USER.items())
    captured_elsewhere = sign(key, "GET", "/internal/ops/etl", ADMIN.items())
    expired = sign(key, "GET", path, ADMIN.items(), now=time.time() - 120)
    return {
        "no credential": {},
        "garbage credential": {HEADER: "v1.9999999999.Zm9yZ2Vk"},
        "signed with another key": {HEADER: sign(other_key, "GET", path, ADMIN.items())},
        "expired credential": {HEADER: expired},
        "user's credential replayed as admin": {HEADER: captured_user},
        "credential of another path": {HEADER: captured_elsewhere},
    }


async def test_forged_caller_headers_are_refused_by_every_internal_service(
    services: dict[str, str], test_infra: TestInfrastructure
) -> None:
    key = signing_key(test_infra.settings(ServiceSettings))
    attempts: list[Attempt] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for service, paths in TARGETS.items():
            attack = TALLY.attack(f"forged caller headers straight to {service}")
            for path in paths:
                for forgery, headers in _forgeries(path, key).items():
                    got = await http.get(services[service] + path, headers={**ADMIN, **headers})
                    attack.count(got, got.status_code != 401)
                    code = got.json().get("code", "") if got.status_code >= 400 else ""
                    attempts.append(Attempt(service, path, forgery, got.status_code, code))
            attack.assert_failed()
    assert {a.code for a in attempts} == {
        "SERVICE_CREDENTIAL_REQUIRED",
        "SERVICE_CREDENTIAL_INVALID",
    }
    unsigned = [a for a in attempts if a.forgery == "no credential"]
    assert {a.code for a in unsigned} == {"SERVICE_CREDENTIAL_REQUIRED"}


async def test_caller_headers_need_a_credential_on_any_path(services: dict[str, str]) -> None:
    # Identity's public routes authenticate by bearer token; stated callers still need one.
    async with httpx.AsyncClient(base_url=services["identity"]) as http:
        got = await http.get("/v1/users/me", headers=ADMIN)
    assert (got.status_code, got.json()["code"]) == (401, "SERVICE_CREDENTIAL_REQUIRED")


async def test_what_the_gateway_signs_is_served(
    services: dict[str, str], test_infra: TestInfrastructure
) -> None:
    auth = auth_for(test_infra.settings(ServiceSettings))
    async with httpx.AsyncClient(auth=auth, timeout=30) as http:
        for service, paths in TARGETS.items():
            for path in paths:
                got = await http.get(services[service] + path, headers=AS_USER)
                assert got.status_code in (200, 404), (service, path, got.text)
                if got.status_code == 404:
                    assert got.json()["code"] != "SERVICE_CREDENTIAL_REQUIRED"
        # Health and metrics stay open for probes and the scraper.
        for url in services.values():
            async with httpx.AsyncClient(base_url=url) as bare:
                assert (await bare.get("/health/live")).status_code == 200

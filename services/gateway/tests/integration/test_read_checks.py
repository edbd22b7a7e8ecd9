"""A read-model route's caller checks, made in the same Redis script as its read (ADR 0061).

Board and details reads count the caller against the rate limit and check the
token's deny-lists in the script that reads the card: the answers must be the
ones the separate checks gave (429 with `Retry-After`, 401 `TOKEN_REVOKED`,
a revoked request not counted), whatever happens to the read afterwards (here
the competitions service is not running: a request let through fails later).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from podium_gateway.app import create_api as create_gateway
from podium_gateway.config import Settings as GatewaySettings
from podium_identity.app import create_api as create_identity
from podium_identity.config import Settings as IdentitySettings
from podium_identity.keys import write_key_file
from podium_runtime.testing import TestInfrastructure, serve

FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
PASSWORD = "Read checks password 7"


def gateway_app(test_infra: TestInfrastructure, identity_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    """Build a gateway with its own Redis key space and the given limits."""
    settings = test_infra.settings(
        GatewaySettings,
        identity_url=identity_url,
        redis_key_prefix=f"t{uuid.uuid4().hex[:8]}:gateway:",
        **overrides,
    )
    return create_gateway(settings)


async def new_user(client: httpx.AsyncClient) -> dict[str, str]:
    """Register and log in a fresh user; return the token pair."""
    address = f"reads-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": address, "password": PASSWORD, "display_name": "Reader"}
    assert (await client.post("/v1/auth/register", json=body)).status_code == 201
    response = await client.post("/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def identity_url(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """One identity service for the module."""
    await test_infra.migrate("identity")
    keys_dir: Path = tmp_path_factory.mktemp("read-check-keys")
    write_key_file(keys_dir, "r1")
    settings = test_infra.settings(
        IdentitySettings,
        jwt_keys_dir=keys_dir,
        jwt_active_kid="r1",
        redis_key_prefix=f"t{uuid.uuid4().hex[:8]}:identity:",
        **FAST_ARGON2,
    )
    async with serve(create_identity(settings)) as url:
        yield url


def paths() -> list[str]:
    competition = f"/v1/competitions/{uuid.uuid4()}"
    return [competition, f"{competition}/leaderboard"]


@pytest.mark.parametrize("route", [0, 1], ids=["details", "board"])
async def test_anonymous_reads_are_limited_per_ip(
    test_infra: TestInfrastructure, identity_url: str, route: int
) -> None:
    app = gateway_app(test_infra, identity_url, rate_limit_ip=2)
    path = paths()[route]
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        statuses = [(await client.get(path)).status_code for _ in range(2)]
        limited = await client.get(path)
    assert 429 not in statuses, statuses
    assert limited.status_code == 429, limited.text
    assert limited.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(limited.headers["retry-after"]) <= 60


@pytest.mark.parametrize("route", [0, 1], ids=["details", "board"])
async def test_signed_in_reads_are_limited_per_user_and_revoked_tokens_refused(
    test_infra: TestInfrastructure, identity_url: str, route: int
) -> None:
    app = gateway_app(test_infra, identity_url, rate_limit_user=2)
    path = paths()[route]
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        tokens = await new_user(client)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        first = await client.get(path, headers=auth)
        assert first.status_code != 429, first.text
        # Logged out: refused, and not counted (the next user request is still allowed).
        logout = await client.post(
            "/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=auth
        )
        assert logout.status_code == 204, logout.text
        for _ in range(3):
            revoked = await client.get(path, headers=auth)
            assert (revoked.status_code, revoked.json()["code"]) == (401, "TOKEN_REVOKED")

        other = await new_user(client)
        other_auth = {"Authorization": f"Bearer {other['access_token']}"}
        statuses = [(await client.get(path, headers=other_auth)).status_code for _ in range(2)]
        limited = await client.get(path, headers=other_auth)
    assert 429 not in statuses, statuses
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["ratelimit-limit"]) == 2

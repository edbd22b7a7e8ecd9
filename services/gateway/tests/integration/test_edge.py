"""The gateway's edge over HTTP: headers, body limits, CORS, rate limits, key rotation (SPEC §8)."""

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
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure, serve

FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
PASSWORD = "Edge test password 7"
ORIGIN = "https://app.podium.test"


def identity_app(test_infra: TestInfrastructure, keys_dir: Path, active: str, run: str):  # type: ignore[no-untyped-def]
    """Build identity with the keys of `keys_dir`, `active` signing."""
    return create_identity(
        test_infra.settings(
            IdentitySettings,
            jwt_keys_dir=keys_dir,
            jwt_active_kid=active,
            redis_key_prefix=f"t{run}:identity:",
            **FAST_ARGON2,
        )
    )


def gateway_app(test_infra: TestInfrastructure, identity_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    """Build a gateway with its own Redis key space."""
    values: dict[str, object] = {
        "identity_url": identity_url,
        "redis_key_prefix": f"t{uuid.uuid4().hex[:8]}:gateway:",
        "jwks_refetch_min_seconds": 0.1,
        "max_body_bytes": 4096,
        "cors_origins": [ORIGIN],
    }
    values.update(overrides)
    return create_gateway(test_infra.settings(GatewaySettings, **values))


@pytest.fixture(scope="module")
async def identity_url(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """One identity service for the module."""
    await test_infra.migrate("identity")
    keys_dir = tmp_path_factory.mktemp("edge-keys")
    write_key_file(keys_dir, "a1")
    async with serve(identity_app(test_infra, keys_dir, "a1", uuid.uuid4().hex[:8])) as url:
        yield url


@pytest.fixture(scope="module")
async def gateway(
    test_infra: TestInfrastructure, identity_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with small body limits and one allowed origin."""
    async with (
        serve(gateway_app(test_infra, identity_url)) as url,
        httpx.AsyncClient(base_url=url) as c,
    ):
        yield c


async def new_user(client: httpx.AsyncClient) -> dict[str, str]:
    """Register and log in a fresh user; return the token pair."""
    address = f"edge-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": address, "password": PASSWORD, "display_name": "Edge"}
    assert (await client.post("/v1/auth/register", json=body)).status_code == 201
    response = await client.post("/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_security_headers_on_every_response(gateway: httpx.AsyncClient) -> None:
    for response in (await gateway.get("/health/live"), await gateway.get("/v1/users/me")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-request-id"]
        # Plain http on loopback: HSTS would be meaningless.
        assert "strict-transport-security" not in response.headers


async def test_hsts_when_served_behind_tls(
    test_infra: TestInfrastructure, identity_url: str
) -> None:
    app = gateway_app(test_infra, identity_url, force_hsts=True)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/health/live")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_oversized_bodies_are_413(gateway: httpx.AsyncClient) -> None:
    big = {"email": "x@example.org", "password": "p" * 10_000, "display_name": "x"}
    declared = await gateway.post("/v1/auth/register", json=big)
    assert declared.status_code == 413
    assert declared.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert declared.headers["x-request-id"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    # No Content-Length: the limit is enforced on what actually arrives.
    streamed = await gateway.post(
        "/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_cors_allows_only_listed_origins(gateway: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await gateway.options("/v1/auth/login", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = await gateway.options(
        "/v1/auth/login", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    simple = await gateway.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_login_rate_limit_per_ip(test_infra: TestInfrastructure, identity_url: str) -> None:
    app = gateway_app(test_infra, identity_url, rate_limit_login_ip=3)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = {"email": f"nobody-{uuid.uuid4().hex[:6]}@example.org", "password": "whatever 123"}
        statuses = [(await client.post("/v1/auth/login", json=body)).status_code for _ in range(4)]
        limited = await client.post("/v1/auth/login", json=body)
    assert statuses == [401, 401, 401, 429]
    assert limited.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(limited.headers["retry-after"]) <= 300


async def test_api_rate_limit_per_user(test_infra: TestInfrastructure, identity_url: str) -> None:
    app = gateway_app(test_infra, identity_url, rate_limit_user=2)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        tokens = await new_user(client)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        statuses = [(await client.get("/v1/users/me", headers=auth)).status_code for _ in range(3)]
        other = await new_user(client)
        unaffected = await client.get(
            "/v1/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}
        )
    assert statuses == [200, 200, 429]
    assert unaffected.status_code == 200


async def test_identity_down_is_503_not_500(test_infra: TestInfrastructure) -> None:
    app = gateway_app(test_infra, f"http://127.0.0.1:{free_port()}")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/v1/auth/login", json={"email": "a@example.org", "password": "whatever 123"}
        )
        me = await client.get("/v1/users/me", headers={"Authorization": "Bearer x.y.z"})
    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert me.status_code in (401, 503)


async def test_key_rotation_is_picked_up_without_restarting_the_gateway(
    test_infra: TestInfrastructure, tmp_path: Path
) -> None:
    """Roll identity from signer b1 to b2 (b1 still published); the gateway follows by `kid`."""
    await test_infra.migrate("identity")
    run = uuid.uuid4().hex[:8]
    port = free_port()
    app = gateway_app(test_infra, f"http://127.0.0.1:{port}")
    write_key_file(tmp_path, "b1")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        async with serve(identity_app(test_infra, tmp_path, "b1", run), port=port):
            before = await new_user(client)
            old = {"Authorization": f"Bearer {before['access_token']}"}
            assert (await client.get("/v1/users/me", headers=old)).status_code == 200
        # Step 1 of a rotation publishes b2; step 2 (here at once) makes it the signer.
        write_key_file(tmp_path, "b2")
        async with serve(identity_app(test_infra, tmp_path, "b2", run), port=port):
            after = await new_user(client)
            new = {"Authorization": f"Bearer {after['access_token']}"}
            me = await client.get("/v1/users/me", headers=new)
            still = await client.get("/v1/users/me", headers=old)
            kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert me.status_code == 200, me.text
    assert still.status_code == 200
    assert kids == {"b1", "b2"}


async def test_a_spoofed_forwarded_for_does_not_change_the_rate_limit_identity(
    test_infra: TestInfrastructure, identity_url: str
) -> None:
    """Regression: uvicorn trusted X-Forwarded-For from loopback whatever the gateway said."""
    app = gateway_app(test_infra, identity_url, rate_limit_login_ip=3)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = {"email": f"nobody-{uuid.uuid4().hex[:6]}@example.org", "password": "whatever 123"}
        statuses = [
            (
                await client.post(
                    "/v1/auth/login", json=body, headers={"X-Forwarded-For": f"203.0.113.{n}"}
                )
            ).status_code
            for n in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


async def test_one_address_cannot_use_up_the_attempts_of_other_accounts(
    test_infra: TestInfrastructure, identity_url: str
) -> None:
    """Everyone behind one ingress address shares it: the bucket is per address and account."""
    app = gateway_app(test_infra, identity_url, rate_limit_login_ip=2)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        attacked = {"email": f"victim-{uuid.uuid4().hex[:6]}@example.org", "password": "x" * 12}
        for _ in range(3):
            await client.post("/v1/auth/login", json=attacked)
        limited = await client.post("/v1/auth/login", json=attacked)
        other = await client.post(
            "/v1/auth/login",
            json={"email": f"other-{uuid.uuid4().hex[:6]}@example.org", "password": "y" * 12},
        )
    assert limited.status_code == 429
    assert other.status_code == 401


async def test_token_answers_are_never_cached(gateway: httpx.AsyncClient) -> None:
    address = f"edge-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": address, "password": PASSWORD, "display_name": "Edge"}
    assert (await gateway.post("/v1/auth/register", json=body)).status_code == 201
    login = await gateway.post("/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    refreshed = await gateway.post(
        "/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.headers["cache-control"] == "no-store"


async def test_the_json_limit_holds_whatever_the_content_type_claims(
    gateway: httpx.AsyncClient,
) -> None:
    """Regression: announcing multipart raised the limit of any route to the upload limit."""
    big = b'{"email": "' + b"a" * 10_000 + b'@example.org"}'
    for content_type in ("multipart/form-data; boundary=x", "text/csv", "application/json"):
        response = await gateway.post(
            "/v1/auth/login", content=big, headers={"Content-Type": content_type}
        )
        assert response.status_code == 413, content_type


async def test_metrics_are_not_served_to_requests_through_the_ingress(
    gateway: httpx.AsyncClient,
) -> None:
    assert (await gateway.get("/metrics")).status_code == 200  # the scraper, direct
    through = await gateway.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert through.status_code == 404
    assert "podium_" not in through.text

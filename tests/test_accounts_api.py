"""Accounts end to end through the gateway, with identity, Postgres, Redis and the broker real.

Covers SPEC §5.1 (register, login, refresh rotation and reuse detection,
logout, lockout, profile, LRS clients) and §8 (RS256 only, key rotation, no
secrets in logs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from podium_gateway.app import create_api as create_gateway
from podium_gateway.config import Settings as GatewaySettings
from podium_identity.app import create_api as create_identity
from podium_identity.config import Settings as IdentitySettings
from podium_identity.keys import write_key_file
from podium_runtime.logs import JsonFormatter
from podium_runtime.testing import TestInfrastructure, eventually, serve

ADMIN_EMAIL = "root@example.org"
ADMIN_PASSWORD = "Admin-password-for-tests-1"
PASSWORD = "Correct horse battery 9"

# Cheap argon2id for tests only; production defaults are t=3, m=64 MiB, p=4.
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


@dataclass
class Stack:
    """A gateway in front of an identity service, plus the signing keys."""

    gateway: httpx.AsyncClient
    keys_dir: Path

    def private_key(self, kid: str) -> bytes:
        """Return the PEM of a signing key."""
        return (self.keys_dir / f"{kid}.pem").read_bytes()


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Identity (key k1 signing, k2 published for rotation) and the gateway, started once."""
    await test_infra.migrate("identity")
    keys_dir = tmp_path_factory.mktemp("keys")
    write_key_file(keys_dir, "k1")
    write_key_file(keys_dir, "k2")
    run = uuid.uuid4().hex[:8]
    identity = create_identity(
        test_infra.settings(
            IdentitySettings,
            jwt_keys_dir=keys_dir,
            jwt_active_kid="k1",
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
            redis_key_prefix=f"t{run}:identity:",
            **FAST_ARGON2,
        )
    )
    async with serve(identity) as identity_url:
        gateway = create_gateway(
            test_infra.settings(
                GatewaySettings,
                identity_url=identity_url,
                redis_key_prefix=f"t{run}:gateway:",
                rate_limit_login_ip=1000,
                lrs_cache_seconds=0.3,
                jwks_refetch_min_seconds=0.2,
                max_body_bytes=64 * 1024,
                cors_origins=["https://app.podium.test"],
            )
        )
        async with serve(gateway) as gateway_url, httpx.AsyncClient(base_url=gateway_url) as client:
            yield Stack(client, keys_dir)


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Capture every log record at DEBUG, formatted as production writes them (JSON lines)."""
    caplog.set_level(logging.DEBUG)
    formatter = JsonFormatter("test")

    class Lines(list[str]):
        def refresh(self) -> list[str]:
            # HTTP client libraries print raw headers at DEBUG; production keeps them at
            # WARNING (podium_runtime.logs), and here they also carry the test's own requests.
            records = [r for r in caplog.records if not r.name.startswith(("httpcore", "httpx"))]
            self[:] = [formatter.format(r) for r in records] + [r.getMessage() for r in records]
            return self

    return Lines()


def assert_not_logged(lines: list[str], *secrets: str) -> None:
    """Fail when any secret appears in any captured line."""
    lines.refresh()  # type: ignore[attr-defined]
    assert lines, "expected some log output to check"
    for secret in secrets:
        leaking = [line for line in lines if secret in line]
        assert not leaking, f"a secret appeared in the logs: {leaking[0][:200]}"
    assert not [line for line in lines if "$argon2id$" in line], "a password hash was logged"


def email() -> str:
    """Return a fresh address."""
    return f"user-{uuid.uuid4().hex[:10]}@example.org"


async def register(
    client: httpx.AsyncClient, address: str, password: str = PASSWORD, **extra: object
) -> httpx.Response:
    """Register through the gateway."""
    body = {"email": address, "password": password, "display_name": "Ada", **extra}
    return await client.post("/v1/auth/register", json=body)


async def login(
    client: httpx.AsyncClient, address: str, password: str = PASSWORD
) -> httpx.Response:
    """Log in through the gateway."""
    return await client.post("/v1/auth/login", json={"email": address, "password": password})


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


async def test_register_login_profile_refresh_reuse_and_logout(
    stack: Stack, log_lines: list[str]
) -> None:
    client = stack.gateway
    address = email()
    created = await register(client, address, timezone="Europe/Paris")
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == address and user["timezone"] == "Europe/Paris"
    assert user["role"] == "user" and "password" not in json.dumps(user)

    logged_in = await login(client, address.upper())
    assert logged_in.status_code == 200, logged_in.text
    tokens = logged_in.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "RS256" and header["kid"] == "k1"
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert {"sub", "email", "role", "exp", "iat", "jti", "kid"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900

    me = await client.get("/v1/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]

    patched = await client.patch(
        "/v1/users/me",
        headers=bearer(tokens["access_token"]),
        json={"display_name": "Ada L.", "timezone": "America/New_York"},
    )
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Ada L."
    bad_zone = await client.patch(
        "/v1/users/me", headers=bearer(tokens["access_token"]), json={"timezone": "Mars/Olympus"}
    )
    assert bad_zone.status_code == 422 and bad_zone.json()["code"] == "INVALID_TIMEZONE"

    first_refresh = tokens["refresh_token"]
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": first_refresh})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first_refresh

    # The old token is dead; presenting it again is treated as theft: the family dies.
    reused = await client.post("/v1/auth/refresh", json={"refresh_token": first_refresh})
    assert reused.status_code == 401
    assert reused.json()["code"] == "REFRESH_TOKEN_REUSED"
    killed = await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert killed.status_code == 401

    # A fresh login opens a new family; logout ends it.
    fresh = (await login(client, address)).json()
    out = await client.post(
        "/v1/auth/logout",
        headers=bearer(fresh["access_token"]),
        json={"refresh_token": fresh["refresh_token"]},
    )
    assert out.status_code == 204
    after = await client.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert after.status_code == 401
    # The access token of the session dies with it, not up to 15 minutes later.
    stale = await client.get("/v1/users/me", headers=bearer(fresh["access_token"]))
    assert stale.status_code == 401 and stale.json()["code"] == "TOKEN_REVOKED"

    assert_not_logged(
        log_lines,
        PASSWORD,
        tokens["access_token"],
        first_refresh,
        second["refresh_token"],
        second["access_token"],
        fresh["refresh_token"],
    )


async def test_duplicate_email_is_409(stack: Stack) -> None:
    address = email()
    assert (await register(stack.gateway, address)).status_code == 201
    again = await register(stack.gateway, address.upper())
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "EMAIL_TAKEN"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short1!", "min_length"),
        ("alllowercaseletters", "character_classes"),
        ("123456789012345", "character_classes"),
        (None, "not_email"),
    ],
)
async def test_weak_password_is_422_naming_the_rule(
    stack: Stack, password: str | None, rule: str
) -> None:
    address = email()
    response = await register(stack.gateway, address, password or address)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "WEAK_PASSWORD"
    assert rule in {e["rule"] for e in body["errors"]}


async def test_unknown_timezone_is_422(stack: Stack) -> None:
    response = await register(stack.gateway, email(), timezone="Mars/Olympus")
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_TIMEZONE"
    assert response.json()["errors"][0]["field"] == "timezone"


async def test_wrong_password_and_unknown_email_answer_identically(stack: Stack) -> None:
    address = email()
    await register(stack.gateway, address)
    wrong = await login(stack.gateway, address, "Not the password 1")
    unknown = await login(stack.gateway, email(), "Not the password 1")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"


async def test_fifth_failure_locks_the_account(stack: Stack) -> None:
    address = email()
    await register(stack.gateway, address)
    statuses = [
        (await login(stack.gateway, address, "Wrong password 99")).status_code for _ in range(4)
    ]
    assert statuses == [401] * 4
    fifth = await login(stack.gateway, address, "Wrong password 99")
    assert fifth.status_code == 429
    assert fifth.json()["code"] == "ACCOUNT_LOCKED"
    assert 0 < int(fifth.headers["retry-after"]) <= 900
    # Even the right password is refused while locked.
    right = await login(stack.gateway, address)
    assert right.status_code == 429 and right.json()["code"] == "ACCOUNT_LOCKED"
    # Other accounts are not affected.
    other = email()
    await register(stack.gateway, other)
    assert (await login(stack.gateway, other)).status_code == 200


async def _user_token_claims(stack: Stack) -> dict[str, object]:
    address = email()
    user = (await register(stack.gateway, address)).json()
    now = int(time.time())
    return {
        "sub": user["id"],
        "email": address,
        "role": "user",
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }


async def test_expired_token_is_token_expired(stack: Stack) -> None:
    claims = await _user_token_claims(stack)
    claims.update(iat=int(time.time()) - 3600, exp=int(time.time()) - 60)
    token = jwt.encode(claims, stack.private_key("k1"), algorithm="RS256", headers={"kid": "k1"})
    response = await stack.gateway.get("/v1/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_EXPIRED"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_forged_tokens_are_invalid(stack: Stack) -> None:
    claims = await _user_token_claims(stack)
    good = jwt.encode(claims, stack.private_key("k1"), algorithm="RS256", headers={"kid": "k1"})
    head, payload, signature = good.split(".")
    elevated = _b64(json.dumps({**claims, "role": "admin"}).encode())
    public_pem = (
        serialization.load_pem_private_key(stack.private_key("k1"), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    hs_sig = _b64(hmac.new(public_pem, f"{hs_head}.{payload}".encode(), hashlib.sha256).digest())
    none_head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    unknown_kid = jwt.encode(
        claims, stack.private_key("k1"), algorithm="RS256", headers={"kid": "k9"}
    )
    forged = {
        "tampered signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "tampered claims": f"{head}.{elevated}.{signature}",
        "alg none": f"{none_head}.{payload}.",
        "HS256 with the public key": f"{hs_head}.{payload}.{hs_sig}",
        "unknown kid": unknown_kid,
        "garbage": "not-a-jwt",
    }
    for name, token in forged.items():
        response = await stack.gateway.get("/v1/users/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json()["code"] == "INVALID_TOKEN", name
    assert (await stack.gateway.get("/v1/users/me", headers=bearer(good))).status_code == 200


async def test_token_signed_with_rotated_in_key_is_accepted(stack: Stack) -> None:
    jwks = (await stack.gateway.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {"k1", "k2"}
    assert all(k["alg"] == "RS256" and "d" not in k for k in jwks["keys"])
    claims = await _user_token_claims(stack)
    token = jwt.encode(claims, stack.private_key("k2"), algorithm="RS256", headers={"kid": "k2"})
    response = await stack.gateway.get("/v1/users/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["email"] == claims["email"]


async def _admin_token(stack: Stack) -> str:
    async def admin_login() -> httpx.Response | None:
        response = await login(stack.gateway, ADMIN_EMAIL, ADMIN_PASSWORD)
        return response if response.status_code == 200 else None

    response = await eventually(admin_login, message="bootstrapped admin can log in")
    return str(response.json()["access_token"])


def basic(key: str, secret: str) -> dict[str, str]:
    """Return the Authorization header for LRS client credentials."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


async def test_lrs_client_lifecycle(stack: Stack, log_lines: list[str]) -> None:
    client = stack.gateway
    admin = bearer(await _admin_token(stack))
    created = await client.post(
        "/v1/admin/lrs-clients",
        headers=admin,
        json={"name": "Moodle", "scopes": ["statements/write"]},
    )
    assert created.status_code == 201, created.text
    lrs = created.json()
    assert lrs["secret"] and lrs["key"]

    listed = await client.get("/v1/admin/lrs-clients", headers=admin)
    assert listed.status_code == 200
    mine = [c for c in listed.json()["items"] if c["id"] == lrs["id"]]
    assert mine and "secret" not in mine[0] and "secret_hash" not in mine[0]

    about = await client.get("/xapi/about", headers=basic(lrs["key"], lrs["secret"]))
    assert about.status_code == 200
    assert {"1.0.3", "2.0.0"} <= set(about.json()["version"])

    wrong = await client.get("/xapi/about", headers=basic(lrs["key"], "wrong-secret"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    # About needs no credentials (xAPI Communication 2.8), but checks those it is given.
    anonymous = await client.get("/xapi/about")
    assert anonymous.status_code == 200
    statements = await client.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"})
    assert statements.status_code == 401
    assert statements.headers["www-authenticate"].startswith("Basic")

    revoked = await client.delete(f"/v1/admin/lrs-clients/{lrs['id']}", headers=admin)
    assert revoked.status_code == 204

    async def refused() -> bool:
        response = await client.get("/xapi/about", headers=basic(lrs["key"], lrs["secret"]))
        return response.status_code == 401

    await eventually(refused, timeout=5, message="revoked LRS client refused")
    again = await client.delete(f"/v1/admin/lrs-clients/{lrs['id']}", headers=admin)
    assert again.status_code == 404
    assert_not_logged(log_lines, lrs["secret"], ADMIN_PASSWORD, admin["Authorization"].split()[1])


async def test_non_admin_gets_403_on_admin_routes(stack: Stack) -> None:
    address = email()
    await register(stack.gateway, address)
    user = bearer((await login(stack.gateway, address)).json()["access_token"])
    responses = [
        await stack.gateway.post(
            "/v1/admin/lrs-clients", headers=user, json={"name": "x", "scopes": ["statements/read"]}
        ),
        await stack.gateway.get("/v1/admin/lrs-clients", headers=user),
        await stack.gateway.delete(f"/v1/admin/lrs-clients/{uuid.uuid4()}", headers=user),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert {r.json()["code"] for r in responses} == {"FORBIDDEN"}
    anonymous = await stack.gateway.get("/v1/admin/lrs-clients")
    assert anonymous.status_code == 401


async def test_password_reset_flow(stack: Stack) -> None:
    address = email()
    await register(stack.gateway, address)
    session = (await login(stack.gateway, address)).json()
    asked = await stack.gateway.post("/v1/auth/forgot-password", json={"email": address})
    unknown = await stack.gateway.post("/v1/auth/forgot-password", json={"email": email()})
    assert asked.status_code == unknown.status_code == 202
    bad = await stack.gateway.post(
        "/v1/auth/reset-password", json={"token": "nope", "password": "New password 123"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_RESET_TOKEN"
    # The old session survives a failed reset attempt.
    assert (
        await stack.gateway.post(
            "/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
        )
    ).status_code == 200

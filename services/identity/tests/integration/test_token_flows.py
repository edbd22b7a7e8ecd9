"""E-mail verification and password reset: single-use tokens, events in the outbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from podium_identity.app import create_api
from podium_identity.config import Settings
from podium_identity.models import messaging
from podium_runtime.outbox import staged_events
from podium_runtime.testing import TestInfrastructure, serve
from sqlalchemy.ext.asyncio import create_async_engine

PASSWORD = "Token flow password 1"
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


@pytest.fixture(scope="module")
async def identity(test_infra: TestInfrastructure) -> AsyncIterator[httpx.AsyncClient]:
    """Identity requiring verified e-mail before login."""
    await test_infra.migrate("identity")
    settings = test_infra.settings(
        Settings,
        require_verified_email=True,
        redis_key_prefix=f"t{uuid.uuid4().hex[:8]}:identity:",
        **FAST_ARGON2,
    )
    async with serve(create_api(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def emitted(test_infra: TestInfrastructure, event_type: str, email: str) -> list[dict]:  # type: ignore[type-arg]
    """Return the outbox events of a type about one address (what the notifier will receive)."""
    engine = create_async_engine(
        test_infra.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    )
    try:
        async with engine.connect() as connection:
            events = await staged_events(connection, messaging.outbox, event_type)
    finally:
        await engine.dispose()
    return [e for e in events if e["data"]["email"] == email]


async def test_verification_is_required_then_single_use(
    identity: httpx.AsyncClient, test_infra: TestInfrastructure
) -> None:
    address = f"verify-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": address, "password": PASSWORD, "display_name": "V"}
    assert (await identity.post("/v1/auth/register", json=body)).status_code == 201
    assert len(await emitted(test_infra, "user.registered", address)) == 1
    refused = await identity.post("/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert refused.status_code == 403 and refused.json()["code"] == "EMAIL_NOT_VERIFIED"

    (requested,) = await emitted(test_infra, "user.email_verification_requested", address)
    token = requested["data"]["token"]
    verified = await identity.post("/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200 and verified.json()["email_verified"] is True
    again = await identity.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["code"] == "INVALID_VERIFICATION_TOKEN"
    login = await identity.post("/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200


async def test_password_reset_logs_out_everywhere(
    identity: httpx.AsyncClient, test_infra: TestInfrastructure
) -> None:
    address = f"reset-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": address, "password": PASSWORD, "display_name": "R"}
    assert (await identity.post("/v1/auth/register", json=body)).status_code == 201
    (requested,) = await emitted(test_infra, "user.email_verification_requested", address)
    await identity.post("/v1/auth/verify-email", json={"token": requested["data"]["token"]})
    session = (
        await identity.post("/v1/auth/login", json={"email": address, "password": PASSWORD})
    ).json()

    assert (
        await identity.post("/v1/auth/forgot-password", json={"email": address})
    ).status_code == 202
    (reset,) = await emitted(test_infra, "user.password_reset_requested", address)
    weak = await identity.post(
        "/v1/auth/reset-password", json={"token": reset["data"]["token"], "password": "short"}
    )
    assert weak.status_code == 422 and weak.json()["code"] == "WEAK_PASSWORD"
    # A refused new password does not burn the token (the transaction rolled back).
    new_password = "A brand new password 2"
    done = await identity.post(
        "/v1/auth/reset-password", json={"token": reset["data"]["token"], "password": new_password}
    )
    assert done.status_code == 204
    reused = await identity.post(
        "/v1/auth/reset-password", json={"token": reset["data"]["token"], "password": new_password}
    )
    assert reused.status_code == 400 and reused.json()["code"] == "INVALID_RESET_TOKEN"

    old_session = await identity.post(
        "/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert old_session.status_code == 401
    old_password = await identity.post(
        "/v1/auth/login", json={"email": address, "password": PASSWORD}
    )
    assert old_password.status_code == 401
    new_login = await identity.post(
        "/v1/auth/login", json={"email": address, "password": new_password}
    )
    assert new_login.status_code == 200

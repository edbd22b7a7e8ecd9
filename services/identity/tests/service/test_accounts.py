"""Account use cases on real Postgres, without HTTP, Redis, Kafka or uvicorn (SPEC §5.1)."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as redis
from podium_identity.config import Settings
from podium_identity.keys import KeyRing
from podium_identity.models import metadata
from podium_identity.service import AccountError, Accounts, LoginThrottle
from podium_runtime.outbox import Outbox, messaging_tables, staged_events
from sqlalchemy.ext.asyncio import AsyncSession

OUTBOX = messaging_tables(metadata).outbox
#: Cheap argon2id parameters: these tests are about the use cases, not the hash cost.
SETTINGS = Settings(
    database_url="postgresql://unused/unused",
    argon2_time_cost=1,
    argon2_memory_kib=1024,
    argon2_parallelism=1,
)


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    """An ephemeral signing key (generating one is costly: once per module)."""
    return KeyRing.from_settings(SETTINGS)


@pytest.fixture
def accounts(keyring: KeyRing) -> Accounts:
    """The identity use cases; the login throttle is never reached by these tests."""
    throttle = LoginThrottle(redis.Redis(), SETTINGS)
    return Accounts(SETTINGS, keyring, Outbox(OUTBOX, ""), throttle)


async def _announced(session: AsyncSession, event_type: str) -> list[dict[str, object]]:
    return [event["data"] for event in await staged_events(session, OUTBOX, event_type)]


def _email() -> str:
    return f"ada-{uuid.uuid4().hex[:8]}@example.com"


async def test_registering_announces_the_user_and_asks_for_verification(
    session: AsyncSession, accounts: Accounts
) -> None:
    email = _email()
    user = await accounts.register(session, email, "a long passphrase 1", "Ada", "Europe/Paris")
    [registered] = await _announced(session, "user.registered")
    assert registered["user_id"] == str(user.id) and registered["timezone"] == "Europe/Paris"
    [asked] = await _announced(session, "user.email_verification_requested")
    assert asked["email"] == email and asked["token"]
    assert user.email_verified_at is None


async def test_an_email_is_taken_whatever_its_case(
    session: AsyncSession, accounts: Accounts
) -> None:
    email = _email()
    await accounts.register(session, email, "a long passphrase 1", "Ada", None)
    with pytest.raises(AccountError) as refused:
        async with session.begin_nested():
            await accounts.register(session, email.upper(), "a long passphrase 2", "Bob", None)
    assert (refused.value.code, refused.value.status) == ("EMAIL_TAKEN", 409)


async def test_a_verification_token_works_once(session: AsyncSession, accounts: Accounts) -> None:
    await accounts.register(session, _email(), "a long passphrase 1", "Ada", None)
    [asked] = await _announced(session, "user.email_verification_requested")
    verified = await accounts.verify_email(session, str(asked["token"]))
    assert verified.email_verified_at is not None
    with pytest.raises(AccountError) as again:
        await accounts.verify_email(session, str(asked["token"]))
    assert again.value.code == "INVALID_VERIFICATION_TOKEN"

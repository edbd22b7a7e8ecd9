"""`GET /v1/users/me` from the profile card, with every service and store real.

The card (ADR 0074) must give exactly the answer the owners' internal APIs give
(status, headers, body), follow every change at once (read-your-writes for the
profile and the preferences), stop answering for an erased or disabled account
at once, never answer for another user, and survive losing its Redis keys.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from podium_contracts.redis_keys import profile_card_key
from podium_gateway.app import create_api as create_gateway
from podium_gateway.config import Settings as GatewaySettings
from podium_gateway.profile_read import PROFILE_READS
from podium_identity.app import create_api as create_identity
from podium_identity.config import Settings as IdentitySettings
from podium_identity.keys import write_key_file
from podium_notifier.app import build_app, create_service
from podium_notifier.config import Settings as NotifierSettings
from podium_runtime.infra import create_topics, ensure_database
from podium_runtime.migrations import upgrade
from podium_runtime.profile_card import ACCOUNT, PREFERENCES, ProfileCards
from podium_runtime.testing import REPO_ROOT, TestInfrastructure, eventually, serve
from redis.asyncio import Redis

PASSWORD = "Correct horse battery 9"
ADMIN_EMAIL = "card-admin@example.org"
ADMIN_PASSWORD = "Admin-password-for-tests-1"
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
#: Headers that differ between any two answers.
VOLATILE = {"date", "x-request-id"}


@dataclass
class Stack:
    """Gateway, identity and notifier on real infrastructure, and a Redis client."""

    gateway: httpx.AsyncClient
    redis: Redis
    admin: dict[str, str]


@dataclass
class Account:
    """A registered, logged-in user."""

    user_id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    run = uuid.uuid4().hex[:8]
    await test_infra.migrate("identity")
    topic_prefix = f"{test_infra.topic_prefix}card{run}."
    await create_topics(test_infra.infra.kafka_bootstrap_servers, topic_prefix)
    notifier_db = await ensure_database(test_infra.infra.database_url, f"{run}_notifier_card")
    await asyncio.to_thread(
        upgrade, REPO_ROOT / "services" / "notifier" / "migrations", notifier_db, "notifier"
    )
    keys_dir = tmp_path_factory.mktemp("keys")
    write_key_file(keys_dir, "k1")
    identity = create_identity(
        test_infra.settings(
            IdentitySettings,
            kafka_topic_prefix=topic_prefix,
            jwt_keys_dir=keys_dir,
            jwt_active_kid="k1",
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
            redis_key_prefix=f"t{run}:identity:",
            **FAST_ARGON2,
        )
    )
    service = create_service(
        test_infra.settings(
            NotifierSettings,
            service_name="notifier-card",
            kafka_topic_prefix=topic_prefix,
            database_url=notifier_db,
            scheduler_enabled=False,
        )
    )
    redis = Redis.from_url(test_infra.infra.redis_url)
    async with serve(identity) as identity_url, serve(build_app(service)) as notifier_url:
        gateway = create_gateway(
            test_infra.settings(
                GatewaySettings,
                kafka_topic_prefix=topic_prefix,
                identity_url=identity_url,
                notifier_url=notifier_url,
                redis_key_prefix=f"t{run}:gateway:",
            )
        )
        async with (
            serve(gateway) as gateway_url,
            httpx.AsyncClient(base_url=gateway_url, timeout=30) as client,
        ):
            admin = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            yield Stack(client, redis, admin)
    await redis.aclose()


async def _login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    login = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def signup(stack: Stack) -> Account:
    address = f"c{uuid.uuid4().hex[:10]}@example.org"
    created = await stack.gateway.post(
        "/v1/auth/register",
        json={"email": address, "password": PASSWORD, "display_name": "Cora"},
    )
    assert created.status_code == 201, created.text
    headers = await _login(stack.gateway, address, PASSWORD)
    return Account(uuid.UUID(created.json()["id"]), headers)


def _reads() -> dict[str, float]:
    return {source: PROFILE_READS.labels(source)._value.get() for source in ("card", "owners")}


async def me(stack: Stack, headers: dict[str, str], source: str | None) -> httpx.Response:
    """GET /v1/users/me, checking which path answered it (`card`, `owners`; None: either)."""
    before = _reads()
    answer = await stack.gateway.get("/v1/users/me", headers=headers)
    after = _reads()
    if source is not None:
        assert after[source] == before[source] + 1, (source, before, after, answer.text)
    return answer


def same(one: httpx.Response, other: httpx.Response) -> None:
    """Assert two answers are the same status, headers (but volatile ones) and bytes."""
    assert one.status_code == other.status_code
    assert one.content == other.content
    headers = [(k, v) for k, v in one.headers.multi_items() if k not in VOLATILE]
    assert headers == [(k, v) for k, v in other.headers.multi_items() if k not in VOLATILE]


async def test_card_answers_exactly_what_the_owners_answer(stack: Stack) -> None:
    user = await signup(stack)
    # Identity wrote its part at sign-up; the preferences part comes with the first read.
    first = await me(stack, user.headers, "owners")
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "private, no-store"
    card = await stack.redis.hgetall(profile_card_key(user.user_id))
    assert {ACCOUNT.encode(), PREFERENCES.encode()} <= set(card)
    second = await me(stack, user.headers, "card")
    same(first, second)
    assert second.json()["id"] == str(user.user_id)
    assert second.json()["notification_preferences"]["submission.scored"]["email"] is True


async def test_admin_reads_through_the_route_and_the_card(stack: Stack) -> None:
    """An admin token goes to the route (identity confirms the role), which reads the card too."""
    await stack.redis.delete(profile_card_key(await _admin_id(stack)))
    fallback = await me(stack, stack.admin, "owners")
    cached = await me(stack, stack.admin, "card")
    same(fallback, cached)
    assert cached.json()["role"] == "admin"


async def _admin_id(stack: Stack) -> uuid.UUID:
    answer = await stack.gateway.get("/v1/users/me", headers=stack.admin)
    return uuid.UUID(answer.json()["id"])


async def test_a_patch_is_read_back_at_once(stack: Stack) -> None:
    user = await signup(stack)
    await me(stack, user.headers, None)
    changes: list[dict[str, Any]] = [
        {"display_name": "Cora One"},
        {"timezone": "Asia/Tokyo"},
        {"notification_preferences": {"leaderboard.rank_changed": {"email": True}}},
        {
            "display_name": "Cora Two",
            "notification_preferences": {"leaderboard.rank_changed": {"in_app": False}},
        },
    ]
    for change in changes:
        patched = await stack.gateway.patch("/v1/users/me", json=change, headers=user.headers)
        assert patched.status_code == 200, patched.text
        read = await me(stack, user.headers, "card")
        assert read.content == patched.content
    document = read.json()
    assert document["display_name"] == "Cora Two" and document["timezone"] == "Asia/Tokyo"
    assert document["notification_preferences"]["leaderboard.rank_changed"] == {
        "in_app": False,
        "email": True,
    }
    # The notifier's own route changes the same part.
    put = await stack.gateway.put(
        "/v1/notifications/preferences",
        json={"preferences": {"leaderboard.rank_changed": {"in_app": True}}},
        headers=user.headers,
    )
    assert put.status_code == 200, put.text
    read = await me(stack, user.headers, "card")
    assert read.json()["notification_preferences"]["leaderboard.rank_changed"] == {
        "in_app": True,
        "email": True,
    }


async def test_a_lost_card_is_answered_by_the_owners_and_written_again(stack: Stack) -> None:
    user = await signup(stack)
    await me(stack, user.headers, None)
    cached = await me(stack, user.headers, "card")
    for lost in ([ACCOUNT], [PREFERENCES], [ACCOUNT, PREFERENCES]):
        # As after a flush or an eviction: the part and its version token are gone.
        await stack.redis.hdel(profile_card_key(user.user_id), *lost, *(f"{p}:v" for p in lost))
        fallback = await me(stack, user.headers, "owners")
        same(fallback, cached)
        same(await me(stack, user.headers, "card"), cached)
    await stack.redis.delete(profile_card_key(user.user_id))
    same(await me(stack, user.headers, "owners"), cached)
    # Many reads missing at once refill it once; they do not knock each other's write out.
    await stack.redis.delete(profile_card_key(user.user_id))
    answers = await asyncio.gather(
        *(stack.gateway.get("/v1/users/me", headers=user.headers) for _ in range(16))
    )
    assert {answer.content for answer in answers} == {cached.content}
    same(await me(stack, user.headers, "card"), cached)


async def test_a_card_never_answers_for_another_user(stack: Stack) -> None:
    mallory, victim = await signup(stack), await signup(stack)
    await me(stack, mallory.headers, None)
    await me(stack, victim.headers, None)
    victims = await me(stack, victim.headers, "card")
    # Whatever the card under Mallory's key says, only Mallory's own account is answered.
    stolen = await stack.redis.hgetall(profile_card_key(victim.user_id))
    await stack.redis.hset(profile_card_key(mallory.user_id), mapping=stolen)
    answer = await me(stack, mallory.headers, "owners")
    assert answer.status_code == 200
    assert answer.json()["id"] == str(mallory.user_id) != victims.json()["id"]


async def test_an_erased_account_is_refused_at_once(stack: Stack) -> None:
    user = await signup(stack)
    await me(stack, user.headers, None)
    await me(stack, user.headers, "card")
    erased = await stack.gateway.delete("/v1/users/me", headers=user.headers)
    assert erased.status_code == 202, erased.text
    refused = await stack.gateway.get("/v1/users/me", headers=user.headers)
    assert refused.status_code == 401 and refused.json()["code"] == "INVALID_TOKEN"
    # The notifier erases its part when `user.deleted` reaches it; nothing is left.

    async def gone() -> bool:
        return not await stack.redis.hexists(profile_card_key(user.user_id), PREFERENCES)

    await eventually(gone)
    again = await stack.gateway.get("/v1/users/me", headers=user.headers)
    assert again.status_code == 401 and again.json()["code"] == "INVALID_TOKEN"
    assert not await stack.redis.hexists(profile_card_key(user.user_id), ACCOUNT)


async def test_a_disabled_account_is_refused_at_once_and_a_role_change_is_shown(
    stack: Stack,
) -> None:
    user = await signup(stack)
    await me(stack, user.headers, None)
    await me(stack, user.headers, "card")
    promoted = await stack.gateway.patch(
        f"/v1/admin/users/{user.user_id}", json={"role": "admin"}, headers=stack.admin
    )
    assert promoted.status_code == 200, promoted.text
    # The token still says `user`; the profile says what identity holds now.
    assert (await me(stack, user.headers, "card")).json()["role"] == "admin"
    disabled = await stack.gateway.patch(
        f"/v1/admin/users/{user.user_id}", json={"disabled": True}, headers=stack.admin
    )
    assert disabled.status_code == 200, disabled.text
    refused = await stack.gateway.get("/v1/users/me", headers=user.headers)
    assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_REVOKED"
    assert not await stack.redis.hexists(profile_card_key(user.user_id), ACCOUNT)


async def test_no_token_bad_token_and_revoked_token_answer_as_before(stack: Stack) -> None:
    missing = await stack.gateway.get("/v1/users/me")
    assert missing.status_code == 401 and missing.json()["code"] == "UNAUTHENTICATED"
    bad = await stack.gateway.get("/v1/users/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_TOKEN"
    user = await signup(stack)
    await me(stack, user.headers, None)
    await me(stack, user.headers, "card")
    login = await stack.gateway.post(
        "/v1/auth/login",
        json={
            "email": (await me(stack, user.headers, "card")).json()["email"],
            "password": PASSWORD,
        },
    )
    tokens = login.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await me(stack, headers, "card")).status_code == 200
    out = await stack.gateway.post(
        "/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204, out.text
    revoked = await stack.gateway.get("/v1/users/me", headers=headers)
    assert revoked.status_code == 401 and revoked.json()["code"] == "TOKEN_REVOKED"


async def test_a_read_of_the_owners_never_lands_after_a_change(store: Redis) -> None:
    """The version tokens: a refill that read before a change cannot overwrite it."""
    redis = store
    cards = ProfileCards(redis, ACCOUNT)
    user_id = uuid.uuid4()
    key = profile_card_key(user_id)
    try:
        # A read claims, a change hides, commits and writes, the read writes late: refused.
        observed = await cards.claim(user_id)
        hidden = await cards.hide(user_id)
        assert await cards.put(user_id, hidden, b'{"v":"new"}', change=True)
        assert not await cards.put(user_id, observed, b'{"v":"old"}')
        assert await redis.hget(key, ACCOUNT) == b'{"v":"new"}'
        # Reads that missed together: the first write stands, the others leave it.
        first, second = await cards.claim(user_id), await cards.claim(user_id)
        assert await cards.put(user_id, first, b'{"v":"read"}')
        assert not await cards.put(user_id, second, b'{"v":"read too"}')
        assert await redis.hget(key, ACCOUNT) == b'{"v":"read"}'
        # A read between hide and commit writes what it read; the change's write deletes it.
        hidden = await cards.hide(user_id)
        during = await cards.claim(user_id)
        assert await cards.put(user_id, during, b'{"v":"before commit"}')
        assert not await cards.put(user_id, hidden, b'{"v":"committed"}', change=True)
        assert await redis.hget(key, ACCOUNT) is None
        # A claim made before the card was lost (flush, erasure) never matches after it.
        observed = await cards.claim(user_id)
        await redis.delete(key)
        assert not await cards.put(user_id, observed, b'{"v":"old"}')
        assert not await redis.exists(key)
        # A card with no part keeps its tokens for a while only; a written part persists.
        await cards.hide(user_id)
        assert 0 < await redis.pttl(key) <= 600_000
        assert await cards.put(user_id, await cards.claim(user_id), b'{"v":"read"}')
        assert await redis.pttl(key) == -1
    finally:
        await redis.delete(key)

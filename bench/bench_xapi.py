"""xAPI ingest throughput and latency: statements/s from POST to flattened rows.

Gateway and ingest run as separate processes (as deployed), identity in this
process (credentials are cached by the gateway), infrastructure embedded or
from the environment; loopback only. For batches of 1, 10 and 100 statements
per request it posts a bounded number of statements with a fixed number of
requests in flight and measures until every flattened row exists; then, at
half the batch-10 rate, it paces requests and reports end-to-end latency
percentiles (POST sent -> flattened row visible; rows are polled every 10 ms).
Each throughput line also shows the CPU each process used (gateway, ingest, and
this run's Postgres, Redis and Kafka processes, found below the bench or by its
work directory) and the machine's, as a share of one core, so a reader can tell
what was the limit, and the CPU microseconds each process spent per statement:
that figure depends far less on what else the machine runs, so compare runs by it.

Environment: BENCH_SIZES=1,10,100 picks batch sizes; BENCH_IN_FLIGHT=10:48
changes the concurrency; BENCH_PROFILE_DIR=<dir> samples both services with
py-spy (collapsed stacks per service).

Results on the 2-core development machine, embedded Postgres, Redis and tansu,
16 requests in flight for batches of 10. The machine is shared with other test
runs, so results vary by up to a half; the ranges are several runs, and the
CPU columns of each line tell a quiet run from a busy one:

| statements per request | before | after |
|---:|---:|---:|
| 1 | 49 - 72 | 394 - 621 |
| 10 | 284 - 571 | 1,916 - 3,002 (2,502 with 48 in flight) |
| 100 | 850 - 1,198 | 3,210 - 4,364 |

Paced at half the batch-10 rate (about 1,000 - 1,500 statements/s after), end
to end: p50 54 - 97 ms, p99 164 - 256 ms on a quiet machine (POST answered:
p50 16 - 24 ms), up to p50 ~1 s when other work saturates the cores. Before:
p50 207 ms, p99 771 ms at 142 statements/s, measured then with a poll that
re-read every row each time.

The conflict lookup of client-chosen ids in ingest (docs/adr/0004) was then
the largest cost: with it skipped, batches of 10 reached 3,922 - 4,526
statements/s in the same conditions. Since the stored-ids index
(docs/adr/0059) the store is asked only about ids the index cannot rule out:
0 lookups for 2,000 requests (before: 291 - 322). Same-run A/B at load average
9-17, CPU microseconds per statement before / after: ingest 310 - 418 /
246 - 278, gateway 275 - 350 / 261 - 302, Postgres 79 - 96 / 71 - 87, Redis
21 - 26 / 29 - 33, Kafka 88 - 157 / 84 - 109. Quiet machine before: 2,561
statements/s, gateway 219 - 250, ingest 232 - 251 (docs/performance.md).

Learning facts per batch (docs/adr/0068): ingest announces a poll's facts in
one `learning.statements_recorded` event per received event and actor instead
of one event per statement, and consumers skip faststream's generic decoding of
each record. Same-run A/B, `main` and the change alternating, batches of 10,
load average 3-9, CPU microseconds per statement of the timed line (8 runs of
each, the decoding change in 6 of them). Statements/s, pair by pair: 2,602 /
3,247, 1,033 / 1,596, 1,285 / 2,516, 2,273 / 1,872, 1,227 / 1,389, 1,605 /
1,876, 2,775 / 3,173, 1,917 / 1,663; under this load they vary by half, so
compare by CPU:

| CPU µs per statement (range, median) | before | after |
|---|---:|---:|
| ingest | 211 - 270, 229 | 133 - 183, 154 |
| gateway (unchanged code) | 203 - 276, 230 | 206 - 259, 237 |
| Postgres | 64 - 73, 68 | 42 - 56, 47 |
| Redis | 24 - 31, 27 | 25 - 32, 28 |
| Kafka | 51 - 86, 67 | 48 - 70, 52 |
| sum | 563 - 736, 621 | 474 - 570, 504 |

The gateway is now the largest cost, and about half of its CPU per request
is the framework and middleware around the xAPI route (routing, tracing,
error boundaries), the rest LRS authentication with its rate-limit call, the
claim script and publishing (docs/performance.md).

Shared Redis round trips (docs/adr/0079): the rate-limit counts and id claims
of concurrent requests travel in one script call per round trip (Redis script
calls per request, printed on each line: 2.19 - 2.32 before, 0.87 - 1.07
after), and ingest checks storability on the statement's JSON text instead of
walking it. At load average 9-23 the CPU per statement did not move beyond
the noise (docs/performance.md).

Where the time went before: a failing `import sniffio` on every internal HTTP
call (httpcore), one conflict lookup call to ingest per request, one
transaction, inbox row and offset commit per Kafka message in ingest with
multi-row INSERTs compiled anew each time, a consumer fetch held 500 ms by
the broker when idle, and a load generator spending as much CPU per request
as the gateway. After: sniffio installed, uvloop and httptools, lookups merged
across concurrent requests and run beside the Redis claim, claims committed
in queued batches, ingest consuming up to 500 events per transaction with
unnest() inserts and bulk inbox rows, fetch wait 50 ms, and a lean client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure, serve
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _support import LeanClient as Poster  # noqa: E402
from _support import cpu_seconds, process_groups  # noqa: E402
from xapi_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, VERSION, statement  # noqa: E402

TOTAL = {
    int(k): v
    for k, v in {"1": 2_000, "10": 10_000, "100": 20_000}.items()
    if k in os.environ.get("BENCH_SIZES", "1,10,100").split(",")
}
IN_FLIGHT = {1: 32, 10: 16, 100: 4}
if os.environ.get("BENCH_IN_FLIGHT"):  # e.g. "1:64,10:32,100:8"
    IN_FLIGHT |= {
        int(k): int(v)
        for k, v in (pair.split(":") for pair in os.environ["BENCH_IN_FLIGHT"].split(","))
    }
LATENCY_SECONDS = 10.0
TIME_LIMIT = 120.0


def _env(infra: TestInfrastructure) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.infra.redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.infra.kafka_bootstrap_servers,
        "KAFKA_ENABLE_IDEMPOTENCE": str(infra.infra.kafka_enable_idempotence).lower(),
        "KAFKA_TOPIC_PREFIX": infra.topic_prefix,
        # The gateway signs its internal calls with the stack's key (ADR 0053).
        "PODIUM_SERVICE_CREDENTIAL_KEY": infra.infra.service_credential_key,
    }


PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")


@contextlib.asynccontextmanager
async def _process(
    module: str, env: dict[str, str], url: str, pids: dict[str, int]
) -> AsyncIterator[str]:
    # BENCH_PROFILE_DIR=<dir> samples each service with py-spy (collapsed stacks per service).
    wrap = (
        [
            os.environ.get("PY_SPY", "py-spy"),
            "record",
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            f"{PROFILE_DIR}/{module}.txt",
            "--",
        ]
        if PROFILE_DIR
        else []
    )
    proc = await asyncio.create_subprocess_exec(
        *wrap,
        sys.executable,
        "-m",
        module,
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    pids[module.removeprefix("podium_")] = proc.pid
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(1200):  # a loaded machine starts a service slowly
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/health/live")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield url
    finally:
        if PROFILE_DIR:
            import signal

            proc.send_signal(signal.SIGINT)
        else:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=60)


async def _credentials(
    gateway: str, scopes: tuple[str, ...] = ("statements/write", "statements/read")
) -> str:
    async with httpx.AsyncClient(base_url=gateway) as client:
        login = await client.post(
            "/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        created = await client.post(
            "/v1/admin/lrs-clients",
            json={"name": "bench", "scopes": list(scopes)},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = created.json()
    import base64

    return "Basic " + base64.b64encode(f"{body['key']}:{body['secret']}".encode()).decode()


async def _count(engine: Any, activity: str) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT count(*) FROM ingest.statement_facts WHERE activity_id = :a"),
            {"a": activity},
        )
    return int(value or 0)


def _batch(activity: str, size: int, actors: list[dict[str, Any]], n: int) -> list[Any]:
    # One actor per request, as a learning tool reporting one learner's session would.
    # Ids chosen by the client, as learning tools do: the LRS checks them for conflicts.
    actor = actors[n % len(actors)]
    return [statement(actor=actor, activity=activity, id=str(uuid.uuid4())) for _ in range(size)]


async def _requests(url: str, route: str) -> float:
    """Requests a service answered on `route` so far (its Prometheus counter)."""
    async with httpx.AsyncClient() as client:
        text_format = (await client.get(f"{url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text_format.splitlines()
        if line.startswith("podium_http_requests_total{") and f'route="{route}"' in line
    )


async def _redis_calls(redis_client: Any) -> int:
    """Script calls Redis has run so far: the statement path's round trips (load-independent).

    Only EVAL and EVALSHA: the commands a script runs are counted under their own names.
    """
    stats = await redis_client.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_eval", "cmdstat_evalsha")
    )


async def _throughput(
    client: Poster, size: int, engine: Any, pids: dict[str, int], workdir: str, redis_client: Any
) -> tuple[float, int]:
    activity = f"http://bench.podium.test/{uuid.uuid4().hex}"
    actors = [{"mbox": f"mailto:learner{i}@bench.test"} for i in range(64)]
    requests = TOTAL.get(size, 10_000) // size
    # Bodies are serialised before the clock starts: the load generator only sends.
    bodies = [json.dumps(_batch(activity, size, actors, n)).encode() for n in range(requests)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            body = queue.get_nowait()
            errors += await client.post("/xapi/statements", body) != 200

    groups = process_groups(pids, workdir)
    calls_before = await _redis_calls(redis_client)
    cpu_before = cpu_seconds(pids, groups, sampled=bool(PROFILE_DIR))
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT[size])))
    posted = time.perf_counter() - started
    want = requests * size - errors * size
    # Polling the database is the measurement itself: the rows are the finish line.
    while await _count(engine, activity) < want and time.perf_counter() - started < TIME_LIMIT:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    calls = await _redis_calls(redis_client) - calls_before
    cpu = {
        k: v - cpu_before.get(k, 0.0)
        for k, v in cpu_seconds(pids, groups, sampled=bool(PROFILE_DIR)).items()
    }
    share = ", ".join(f"{k} {v / elapsed:.0%}" for k, v in cpu.items())
    # CPU per statement does not depend on what else the machine runs: compare runs by it.
    cost = ", ".join(f"{k} {v * 1e6 / max(want, 1):.0f}" for k, v in cpu.items() if k != "machine")
    print(
        f"  batch {size:>3}: posted in {posted:6.2f}s, flattened in {elapsed:6.2f}s"
        f" (CPU of one core: {share}; CPU microseconds per statement: {cost};"
        f" Redis script calls per request: {calls / max(requests, 1):.2f})"
    )
    return want / elapsed, errors


async def _latency(client: Poster, engine: Any, rate: float) -> list[float]:
    """Pace batches of 10 at `rate` statements/s; return per-statement end-to-end seconds."""
    activity = f"http://bench.podium.test/{uuid.uuid4().hex}"
    actors = [{"mbox": f"mailto:paced{i}@bench.test"} for i in range(64)]
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    answered: list[float] = []
    interval = 10 / rate
    stop = False

    async def poll() -> None:
        # Ask only for the statements not seen yet, by primary key: the poll stays cheap.
        async with engine.connect() as conn:
            while not stop or len(seen_at) < len(sent_at):
                pending = [uuid.UUID(i) for i in sent_at if i not in seen_at]
                rows = await conn.execute(
                    text(
                        "SELECT statement_id FROM ingest.statement_facts "
                        "WHERE statement_id = ANY(:ids)"
                    ),
                    {"ids": pending},
                )
                now = time.perf_counter()
                for (sid,) in rows:
                    seen_at.setdefault(str(sid), now)
                await conn.commit()
                await asyncio.sleep(0.01)
                if stop and now - last_send > 30:
                    break

    async def post(n: int) -> None:
        batch = _batch(activity, 10, actors, n)
        body = json.dumps(batch).encode()
        now = time.perf_counter()
        for s in batch:
            sent_at[s["id"]] = now
        await client.post("/xapi/statements", body)
        answered.append(time.perf_counter() - now)

    poller = asyncio.create_task(poll())
    tasks = []
    started = last_send = time.perf_counter()
    n = 0
    while time.perf_counter() - started < LATENCY_SECONDS:
        tasks.append(asyncio.create_task(post(n)))
        n += 1
        last_send = time.perf_counter()
        await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
    await asyncio.gather(*tasks)
    stop = True
    await poller
    answered.sort()
    if answered:
        q = statistics.quantiles(answered, n=100)
        print(
            f"  paced POST answered: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"
            f" ({len(answered)} requests)"
        )
    return [seen_at[i] - sent_at[i] for i in sent_at if i in seen_at]


async def main() -> None:
    from podium_identity.app import create_api as identity_api
    from podium_identity.config import Settings as IdentitySettings

    # One internal service credential key for the whole stack (ADR 0053): the services
    # started as processes and identity in this process must sign and check alike.
    os.environ.setdefault("PODIUM_SERVICE_CREDENTIAL_KEY", secrets.token_urlsafe(32))
    with tempfile.TemporaryDirectory() as workdir:
        infra = await TestInfrastructure.start(Path(workdir))
        try:
            await infra.migrate("identity", "ingest")
            identity_settings = infra.settings(
                IdentitySettings,
                jwt_keys_dir=Path(workdir) / "keys",
                jwt_generate_missing_key=True,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                log_level="WARNING",
                service_credential_key=infra.infra.service_credential_key,
            )
            env = _env(infra)
            ingest_port, gateway_port = free_port(), free_port()
            async with serve(identity_api(identity_settings)) as identity:
                env |= {
                    "PODIUM_INGEST_PORT": str(ingest_port),
                    "PODIUM_INGEST_LOG_LEVEL": "WARNING",
                    "PODIUM_INGEST_DB_POOL_SIZE": "10",
                    "PODIUM_GATEWAY_PORT": str(gateway_port),
                    "PODIUM_GATEWAY_LOG_LEVEL": "WARNING",
                    "PODIUM_GATEWAY_IDENTITY_URL": identity,
                    "PODIUM_GATEWAY_INGEST_URL": f"http://127.0.0.1:{ingest_port}",
                    "PODIUM_GATEWAY_RATE_LIMIT_LRS_CLIENT": "100000000",
                    "PODIUM_GATEWAY_RATE_LIMIT_IP": "100000000",
                    "PODIUM_GATEWAY_LRS_CACHE_SECONDS": "300",
                }
                pids = {"bench": os.getpid()}
                async with (
                    _process("podium_ingest", env, f"http://127.0.0.1:{ingest_port}", pids),
                    _process("podium_gateway", env, f"http://127.0.0.1:{gateway_port}", pids) as gw,
                ):
                    auth = await _credentials(gw)
                    engine = create_async_engine(
                        infra.database_url.replace("postgresql://", "postgresql+asyncpg://")
                    )
                    client = Poster(gw, {"Authorization": auth, **VERSION})
                    redis_client = redis.from_url(infra.infra.redis_url)
                    try:
                        # Warm-up: the ingest consumer group joins (about 5 s on tansu).
                        run = (engine, pids, workdir, redis_client)
                        warm = await _throughput(client, 10, *run)
                        results = {size: await _throughput(client, size, *run) for size in TOTAL}
                        rate = results.get(10, warm)[0] / 2
                        ingest_url = f"http://127.0.0.1:{ingest_port}"
                        posts = await _requests(gw, "/xapi/statements")
                        lookups = await _requests(ingest_url, "/internal/statements/lookup")
                        print(f"  {lookups:,.0f} conflict lookups for {posts:,.0f} requests")
                        latencies = sorted(await _latency(client, engine, rate))
                    finally:
                        await client.close()
                        await redis_client.aclose()
                    await engine.dispose()
        finally:
            infra.stop()

    print()
    print("| statements per request | statements/s (POST -> flattened) | errors |")
    print("|---:|---:|---:|")
    for size, (per_second, errors) in results.items():
        print(f"| {size} | {per_second:,.0f} | {errors} |")
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        print()
        print(f"paced at {rate:,.0f} statements/s (half the batch-10 rate), batches of 10:")
        print("| p50 | p90 | p99 | max | statements |")
        print("|---:|---:|---:|---:|---:|")
        print(
            f"| {q[49] * 1000:.0f} ms | {q[89] * 1000:.0f} ms | {q[98] * 1000:.0f} ms "
            f"| {latencies[-1] * 1000:.0f} ms | {len(latencies)} |"
        )


if __name__ == "__main__":
    asyncio.run(main())

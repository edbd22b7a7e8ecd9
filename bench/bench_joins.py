"""Join throughput end to end: gateway -> Kafka -> competitions -> enrollment.accepted.

Starts its own infrastructure (environment URLs or embedded), then identity,
competitions and the gateway as separate processes (as in `make dev`), and
drives the gateway over loopback. Each join is answered 202 once the broker
acknowledged `join.requested`; it counts as done when its `enrollment.accepted`
(same request id) appears on the enrollments topic, so the end-to-end figure
includes the competitions consumer, its transaction and the outbox relay.
Users are registered with cheap argon2 parameters: this measures joins, not
password hashing.

Two ways to offer joins:
- closed loop (default): 32 clients, each posting its next join once the last
  was answered: the rate the stack sustains, latency at saturation;
- open loop (`rate`): the n-th join leaves at n / rate seconds whatever the
  answers do, as clients of a popular opening would: latency below saturation.
Answers other than 202 are counted, not fatal.

The timed phase posts with `_support.LeanClient` (httpx costs about as much CPU
per request as the gateway; on two cores that would measure the load
generator). Below the table, a join's time is split into stages by wall clock
(the record timestamps of `join.requested` and of the outcome, and the
outcome's `occurred_at`): the gateway, the competitions consumer, the outbox
relay, the bench's own consumer. The last line gives each process's share of a
core and its CPU microseconds per join from request to decision: on a shared
machine compare runs by those, and judge a change by a same-run A/B (the
previous code through `PYTHONPATH`, both benches at once; docs/performance.md,
"Joins"). `BENCH_PROFILE_DIR=<dir>` samples the gateway and competitions with
py-spy during the timed phase (raw collapsed stacks, one file each).

Usage: python bench/bench_joins.py [joins] [seconds] [rate]
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _support import (
    LeanClient,
    cpu_cost,
    cpu_seconds,
    process_groups,
    service_env,
    start_ready,
    stop,
)
from aiokafka import AIOKafkaConsumer
from podium_contracts.topics import ENROLLMENTS
from podium_contracts.topics import JOINS as JOINS_TOPIC
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure

JOINS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
#: Joins offered per second (open loop, a fixed schedule); 0: as fast as 32 clients go.
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
#: BENCH_PROFILE_DIR=<dir>: py-spy samples the gateway and competitions during the timed phase.
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")
COMPETITIONS = 10
CONCURRENCY = 32
SERVICES = ["identity", "competitions", "gateway"]
PASSWORD = "Bench password 2024!"  # noqa: S105 - benchmark-only credential


class Outcomes:
    """Collects `enrollment.accepted` arrival times by request id from the enrollments topic.

    It reads the joins topic too, so that a join's time splits into stages (wall
    clock, one machine): the gateway's producer appended `join.requested` (its
    record timestamp), competitions decided (the outcome's `occurred_at`), the
    relay appended the outcome (its record timestamp), the bench received it.
    """

    def __init__(self, infra: TestInfrastructure) -> None:
        self.consumer = AIOKafkaConsumer(
            infra.topic_prefix + ENROLLMENTS.name,
            infra.topic_prefix + JOINS_TOPIC.name,
            bootstrap_servers=infra.infra.kafka_bootstrap_servers,
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        self.accepted: dict[str, float] = {}
        #: request id -> (requested, decided, relayed, received), wall-clock seconds.
        self.stages: dict[str, list[float]] = {}
        self.rejected = 0
        self.changed = asyncio.Event()

    async def run(self) -> None:
        """Record outcomes until cancelled."""
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            now, wall = time.perf_counter(), time.time()
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    request_id = event["data"]["request_id"]
                    stages = self.stages.setdefault(request_id, [0.0] * 4)
                    if event["type"] == "join.requested":
                        stages[0] = record.timestamp / 1000
                    elif event["type"] == "enrollment.accepted":
                        self.accepted[request_id] = now
                        decided = datetime.fromisoformat(event["occurred_at"]).timestamp()
                        stages[1:] = [decided, record.timestamp / 1000, wall]
                    elif event["type"] == "enrollment.rejected":
                        self.rejected += 1
            if batch:
                self.changed.set()

    async def wait_for(self, request_ids: set[str], seconds: float) -> None:
        """Wait until every request id was accepted (or time runs out)."""
        deadline = time.monotonic() + seconds
        while not request_ids <= self.accepted.keys() and time.monotonic() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=0.5)


def stage_rows(sent_wall: dict[str, float], stages: dict[str, list[float]]) -> list[str]:
    """Return one line per stage of a join: p50 and p95 of the time it took, in ms."""
    names = [
        "  POST -> join.requested appended (gateway)",
        "  -> decided (competitions consumer)",
        "  -> enrollment.accepted appended (relay)",
        "  -> received (bench consumer)",
    ]
    spans: list[list[float]] = [[] for _ in names]
    for request_id, started in sent_wall.items():
        marks = stages.get(request_id)
        if marks is None or not all(marks):
            continue
        for i, (a, b) in enumerate(itertools.pairwise([started, *marks])):
            spans[i].append(b - a)
    lines = []
    for name, values in zip(names, spans, strict=True):
        ordered = sorted(values) or [0.0]
        p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
        lines.append(
            f"{name:<44}{len(values):>7}{'':>18}"
            f"{statistics.median(ordered) * 1000:>9.1f}{p95 * 1000:>9.1f}"
        )
    return lines


def profiled(pids: dict[str, int], seconds: float) -> list[subprocess.Popen[bytes]]:
    """Start py-spy on the gateway and competitions for `seconds` (raw stacks in PROFILE_DIR)."""
    if not PROFILE_DIR:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spies = []
    for name in ("gateway", "competitions"):
        out = Path(PROFILE_DIR) / f"{name}.txt"
        command = [spy, "record", "--pid", str(pids[name]), "-d", str(int(seconds) + 1)]
        command += ["-r", "100", "-f", "raw", "-o", str(out), "--nonblocking"]
        spies.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        )
    return spies


def row(name: str, count: int, elapsed: float, latencies: list[float]) -> str:
    """Format one line of the table."""
    ordered = sorted(latencies) or [0.0]
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
    return (
        f"{name:<44}{count:>7}{elapsed:>9.2f}{count / elapsed:>9,.0f}"
        f"{statistics.median(ordered) * 1000:>9.1f}{p95 * 1000:>9.1f}{p99 * 1000:>9.1f}"
    )


async def register(client: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    """Register and log in `count` users; return their bearer headers."""
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> dict[str, str]:
        async with gate:
            body = {
                "email": f"bench-{i}-{uuid.uuid4().hex[:6]}@example.org",
                "password": PASSWORD,
                "display_name": f"Bench {i}",
            }
            made = await client.post("/v1/auth/register", json=body)
            assert made.status_code == 201, made.text
            login = await client.post(
                "/v1/auth/login", json={"email": body["email"], "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            return {"Authorization": f"Bearer {login.json()['access_token']}"}

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def main() -> None:
    """Start everything, measure, print the table."""
    users_needed = -(-JOINS // COMPETITIONS)
    with tempfile.TemporaryDirectory() as workdir:
        infra = await TestInfrastructure.start(Path(workdir))
        processes: list[subprocess.Popen[bytes]] = []
        try:
            await infra.migrate("identity", "competitions")
            ports = {name: free_port() for name in ("gateway", "identity", "competitions")}
            env = service_env(infra, ports)
            env.update(
                {
                    "PODIUM_IDENTITY_JWT_KEYS_DIR": str(Path(workdir) / "keys"),
                    "PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY": "true",
                    "PODIUM_IDENTITY_ARGON2_TIME_COST": "1",
                    "PODIUM_IDENTITY_ARGON2_MEMORY_KIB": "8192",
                    "PODIUM_IDENTITY_ARGON2_PARALLELISM": "1",
                    "PODIUM_GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{ports['identity']}",
                    "PODIUM_GATEWAY_COMPETITIONS_URL": f"http://127.0.0.1:{ports['competitions']}",
                    "PODIUM_GATEWAY_RATE_LIMIT_USER": "1000000000",
                    "PODIUM_GATEWAY_RATE_LIMIT_IP": "1000000000",
                    "PODIUM_GATEWAY_RATE_LIMIT_LOGIN_IP": "1000000000",
                }
            )
            await start_ready(SERVICES, env, ports, processes)
            gateway = f"http://127.0.0.1:{ports['gateway']}"

            outcomes = Outcomes(infra)
            await outcomes.consumer.start()
            collector = asyncio.create_task(outcomes.run())
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=30) as client:
                owner, *users = await register(client, users_needed + 2)
                now = datetime.now(UTC)
                competitions = []
                for i in range(COMPETITIONS + 1):
                    made = await client.post(
                        "/v1/competitions",
                        headers=owner,
                        json={
                            "kind": "prediction",
                            "metric": "auc_roc",
                            "title": f"Bench {i}",
                            "status": "active",
                            "starts_at": (now + timedelta(days=1)).isoformat(),
                            "ends_at": (now + timedelta(days=30)).isoformat(),
                        },
                    )
                    assert made.status_code == 201, made.text
                    competitions.append(made.json()["id"])
                warm_id, competitions = competitions[0], competitions[1:]
                # Warm-up: the consumer group joins and the first decision flows.
                warm = await client.post(f"/v1/competitions/{warm_id}/join", headers=users[-1])
                await outcomes.wait_for({warm.json()["request_id"]}, 60)
                users = users[:-1]

                plan = [(c, u) for u in users for c in competitions][:JOINS]
                sent: dict[str, float] = {}
                sent_wall: dict[str, float] = {}
                failed: collections.Counter[str] = collections.Counter()
                acked: list[float] = []
                deadline = time.monotonic() + SECONDS
                queue = iter(plan)

                lean = LeanClient(gateway)

                async def join(competition: str, auth: dict[str, str]) -> None:
                    started, wall = time.perf_counter(), time.time()
                    status, answer = await lean.request(
                        "POST", f"/v1/competitions/{competition}/join", headers=auth
                    )
                    if status != 202:
                        failed[f"{status} {json.loads(answer).get('code')}"] += 1
                        return
                    acked.append(time.perf_counter() - started)
                    request_id = json.loads(answer)["request_id"]
                    sent[request_id], sent_wall[request_id] = started, wall

                async def worker() -> None:
                    for competition, auth in queue:
                        if time.monotonic() > deadline:
                            return
                        await join(competition, auth)

                async def scheduled() -> None:
                    # Open loop: the n-th join leaves at n / RATE whatever the answers do.
                    tasks = []
                    start = time.perf_counter()
                    for n, (competition, auth) in enumerate(plan):
                        if time.monotonic() > deadline:
                            break
                        delay = start + n / RATE - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        tasks.append(asyncio.create_task(join(competition, auth)))
                    await asyncio.gather(*tasks)

                pids = {"bench": os.getpid()}
                pids.update({s: p.pid for s, p in zip(SERVICES, processes, strict=True)})
                groups = process_groups(pids, workdir)
                cpu_before = cpu_seconds(pids, groups)
                print(f"joining: {len(plan)} joins", file=sys.stderr, flush=True)
                spies = profiled(pids, min(SECONDS, len(plan) / RATE if RATE else SECONDS))
                began = time.perf_counter()
                if RATE:
                    await scheduled()
                else:
                    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
                publish_elapsed = time.perf_counter() - began
                await outcomes.wait_for(set(sent), max(SECONDS, 30))
                for spy in spies:
                    spy.wait(60)
                cost = cpu_cost(
                    cpu_before,
                    cpu_seconds(pids, groups),
                    time.perf_counter() - began,
                    len(sent),
                )
                await lean.close()
                done = {r: t for r, t in outcomes.accepted.items() if r in sent}
                end_to_end = [done[r] - sent[r] for r in done]
                last = max(done.values(), default=began)
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
                await outcomes.consumer.stop()
        finally:
            stop(processes)
            infra.stop()
    offered = f"{RATE:,.0f} joins/s offered" if RATE else f"{CONCURRENCY} concurrent clients"
    print(
        f"\njoins, loopback, {os.cpu_count()} CPUs, {offered}, "
        f"{COMPETITIONS} competitions (broker: {infra.infra.sources['KAFKA_BOOTSTRAP_SERVERS']})"
    )
    print(
        f"{'path':<44}{'count':>7}{'seconds':>9}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    print(row("POST join -> 202 (broker acknowledged)", len(acked), publish_elapsed, acked))
    print(row("POST join -> enrollment.accepted", len(done), last - began, end_to_end))
    print("\n".join(stage_rows(sent_wall, outcomes.stages)))
    lost = len(sent) - len(done)
    print(
        f"accepted {len(done)} of {len(sent)} sent; undecided {lost}; "
        f"rejected {outcomes.rejected}; not accepted by the gateway: {dict(failed) or 0}"
    )
    print(f"per join, POST to decision: {cost}")


if __name__ == "__main__":
    asyncio.run(main())

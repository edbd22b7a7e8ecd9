"""Submission-to-leaderboard latency through the gateway, with 20 concurrent submitters.

Starts its own infrastructure (environment URLs or embedded, via
`TestInfrastructure`), then identity, competitions, scoring and the gateway as
separate processes with their production settings (as `make dev` and
production run them), and drives the gateway over loopback. Each submitter
uploads prediction files one after another (a closed loop: the next file
leaves once the last one is on the board); a submission counts as done when
the public leaderboard, read anonymously through the gateway, shows the
submitter's entry with that many submissions. The figure therefore covers the
upload, the blob store, Kafka, scoring with numpy, the competitions projection,
its Redis mirror and the gateway's read. Bounded by a submission count and a
time limit. `BENCH_THINK_MS=<ms>` adds a pause before each next upload (a
second, lighter load; the closed loop without it is the headline).

A second watcher holds the board's Server-Sent Events stream open through the
gateway (`GET /v1/competitions/{id}/leaderboard/stream`), as a projector or an
embedded board does: "POST -> SSE event" is the time until the first event
announcing a board version that includes the submission. The board reader
reads the page whenever the stream announces a change (at the latest every
second), as a live page does; `BENCH_POLL_MS=<ms>` makes it poll on a timer
instead.

A second table splits that time into stages, from the timestamps the services
record anyway (wall clock, one machine), read from Postgres after the run:
scoring's inbox row of the `submission.received` (its transaction's start: the
unit of work that scores the file begins), the `scored_at` of the outcome, the
outbox row's `sent_at` (the relay's transaction after the commit), the
competitions inbox row of the `submission.scored` (the board update begins),
and the `as_of` version each SSE event announces. The end of each commit is not
recorded anywhere, so commits count in the stage they end.

The timed phase uploads and reads with `_support.LeanClient` (httpx costs
about as much CPU per request as the gateway; on two cores that would measure
the load generator). The last line gives each process's share of a core and its
CPU microseconds per submission (compare runs by those on a shared machine).
`BENCH_PROFILE_DIR=<dir>` samples every service with py-spy during the timed
phase (raw collapsed stacks, one file each).

Usage: python bench/bench_submissions.py [submissions_per_user] [seconds]

The defaults, 25 files per submitter within 90 s (500 submissions), are the target's
measure and what `make bench` runs: with 5 each the first uploads, which start the
consumers' work, weigh on the p95 as much as the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
from _support import (
    LeanClient,
    cpu_cost,
    cpu_seconds,
    percentile,
    process_groups,
    service_env,
    start_ready,
    stop,
)
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from platform_support.stack import User
from submissions_support.stack import (
    PredictionStack,
    answer_key,
    predictions_csv,
)

PER_USER = int(sys.argv[1]) if len(sys.argv) > 1 else 25
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 90.0
SUBMITTERS = 20
ROWS = 2000
SERVICES = ["identity", "competitions", "scoring", "gateway"]


#: BENCH_POLL_MS=<ms>: the board reader polls on this timer instead of reading on each push.
POLL_MS = float(os.environ.get("BENCH_POLL_MS", "0"))
#: BENCH_THINK_MS=<ms>: each submitter pauses this long before its next upload.
THINK_MS = float(os.environ.get("BENCH_THINK_MS", "0"))
#: Set by the stream watcher on every board event; the reader reads the board then.
CHANGED = asyncio.Event()

#: BENCH_PROFILE_DIR=<dir>: py-spy samples every service during the timed phase.
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")


def profiled(pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """Start py-spy on every service (raw stacks in PROFILE_DIR) until `unprofiled`."""
    if not PROFILE_DIR:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spies = []
    for name in SERVICES:
        command = [spy, "record", "--pid", str(pids[name]), "-r", "100", "-f", "raw"]
        command += ["-o", str(Path(PROFILE_DIR) / f"{name}.txt"), "--nonblocking"]
        spies.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        )
    return spies


def unprofiled(spies: list[subprocess.Popen[bytes]]) -> None:
    """Stop py-spy; it writes its file on the interrupt."""
    for spy in spies:
        spy.send_signal(2)  # SIGINT
    for spy in spies:
        spy.wait(30)


#: Instants (wall clock, seconds) of each submission's stages, by submission id.
STAGES: dict[str, dict[str, float]] = {}
STAGE_NAMES = (
    ("posted", "accepted", "POST -> 202"),
    ("accepted", "scoring", "202 -> scoring starts"),
    ("scoring", "scored", "scoring (a poll)"),
    ("scored", "relayed", "scored -> committed, relayed"),
    ("relayed", "ranking", "relayed -> board update starts"),
    ("ranking", "versioned", "board update (version stamped)"),
    ("ranking", "pushed", "board update starts -> SSE event"),
    ("ranking", "visible", "board update starts -> read"),
)

#: (version `as_of`, wall-clock arrival) of every event of the board's stream.
VERSIONS: list[tuple[float, float]] = []

_SCORING_STAGES = text(
    """
    SELECT e.doc::jsonb #>> '{data,submission_id}' AS submission_id,
           CAST(e.doc::jsonb ->> 'id' AS uuid) AS event_id, p.processed_at,
           e.doc::jsonb #>> '{data,scored_at}' AS scored_at, o.sent_at
    FROM scoring.outbox AS o
    -- A row may hold several events, one JSON document per line (ADR 0097).
    CROSS JOIN LATERAL regexp_split_to_table(o.payload, E'\\n') AS e(doc)
    JOIN scoring.processed_events AS p ON p.event_id::text = e.doc::jsonb ->> 'causation_id'
    WHERE o.event_type = 'submission.scored'
    """
)
_BOARD_STAGES = text(
    """
    SELECT event_id, min(processed_at) AS processed_at FROM competitions.processed_events
    WHERE event_type = 'submission.scored' GROUP BY event_id
    """
)


async def read_stages(database_url: str) -> None:
    """Fill STAGES from the timestamps scoring and competitions recorded in Postgres."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            scored = (await connection.execute(_SCORING_STAGES)).all()
            boards = {r.event_id: r.processed_at for r in await connection.execute(_BOARD_STAGES)}
    finally:
        await engine.dispose()
    for row in scored:
        stages = STAGES.get(row.submission_id)
        if stages is None:
            continue
        stages["scoring"] = row.processed_at.timestamp()
        stages["scored"] = datetime.fromisoformat(row.scored_at).timestamp()
        if row.sent_at is not None:
            stages["relayed"] = row.sent_at.timestamp()
        started = boards.get(row.event_id)
        if started is None:
            continue
        stages["ranking"] = started.timestamp()
        # The first version stamped after the board update began is the one that includes
        # the submission: one competition's scores are placed one unit of work at a time.
        announced = [(v, at) for v, at in VERSIONS if v >= stages["ranking"]]
        if announced:
            stages["versioned"], stages["pushed"] = min(announced)


#: The boundary of the benchmark's multipart uploads.
BOUNDARY = "podium-bench-upload"


def multipart(csv: bytes) -> bytes:
    """Return `csv` as the body of a multipart upload in the field `file`."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="predictions.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    )
    return head.encode() + csv + f"\r\n--{BOUNDARY}--\r\n".encode()


async def submitter(
    lean: LeanClient,
    competition_id: str,
    user: User,
    csv: bytes,
    deadline: float,
    arrived: dict[tuple[str, int], asyncio.Event],
    ids: dict[tuple[str, int], str],
) -> None:
    """Submit `PER_USER` files in turn, each once the previous one reached the board."""
    form = multipart(csv)
    for count in range(1, PER_USER + 1):
        if time.monotonic() > deadline:
            return
        if THINK_MS and count > 1:
            await asyncio.sleep(THINK_MS / 1000)
        started = time.time()
        status, answer = await lean.request(
            "POST",
            f"/v1/competitions/{competition_id}/submissions",
            form,
            user.auth,
            f"multipart/form-data; boundary={BOUNDARY}",
        )
        assert status == 202, answer
        submission_id = json.loads(answer)["id"]
        ids[(user.user_id, count)] = submission_id
        STAGES[submission_id] = {"posted": started, "accepted": time.time()}
        signal = arrived.setdefault((user.user_id, count), asyncio.Event())
        try:
            await asyncio.wait_for(signal.wait(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return


async def watch_board(
    lean: LeanClient,
    competition_id: str,
    owner: User,
    arrived: dict[tuple[str, int], asyncio.Event],
    deadline: float,
    ids: dict[tuple[str, int], str],
) -> None:
    """One reader reads the whole board on each push (as a live page does); times arrivals.

    A single watcher keeps the measuring load small; per-submitter polling would
    put more load on the gateway than the submissions themselves.
    """
    seen: set[tuple[str, int]] = set()
    while time.monotonic() < deadline and len(seen) < SUBMITTERS * PER_USER:
        CHANGED.clear()  # a push during the read below makes the next one follow at once
        _, got = await lean.request(
            "GET", f"/v1/competitions/{competition_id}/leaderboard?limit=100", headers=owner.auth
        )
        now = time.time()
        for entry in json.loads(got).get("entries", []):
            for count in range(1, entry["submissions"] + 1):
                key = (entry["user_id"], count)
                if key in ids and key not in seen:
                    seen.add(key)
                    STAGES[ids[key]]["visible"] = now
                    arrived.setdefault(key, asyncio.Event()).set()
        if POLL_MS:
            await asyncio.sleep(POLL_MS / 1000)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(CHANGED.wait(), timeout=1.0)


async def watch_stream(stack: PredictionStack, competition_id: str, ready: asyncio.Event) -> None:
    """Hold the board's SSE stream open (anonymously); note each version and its arrival."""
    url = f"/v1/competitions/{competition_id}/leaderboard/stream"
    async with stack.http.stream("GET", url, timeout=None) as response:
        assert response.status_code == 200, await response.aread()
        ready.set()
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            now = time.time()
            CHANGED.set()
            stamp = json.loads(line.removeprefix("data: ")).get("as_of")
            if stamp is not None:
                VERSIONS.append((datetime.fromisoformat(stamp).timestamp(), now))


def environment(infra: TestInfrastructure, workdir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The services' environment: production settings but for keys, blobs and limits."""
    env = service_env(infra, ports)
    env.update(
        {
            "PODIUM_IDENTITY_JWT_KEYS_DIR": str(workdir / "keys"),
            "PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY": "true",
            # Sign-ups are set-up here, not what is measured.
            "PODIUM_IDENTITY_ARGON2_TIME_COST": "1",
            "PODIUM_IDENTITY_ARGON2_MEMORY_KIB": "8192",
            "PODIUM_IDENTITY_ARGON2_PARALLELISM": "1",
            "PODIUM_BLOB_BACKEND": "local",
            "PODIUM_BLOB_DIR": str(workdir / "blobs"),
            "PODIUM_GATEWAY_RATE_LIMIT_USER": "1000000000",
            "PODIUM_GATEWAY_RATE_LIMIT_IP": "1000000000",
            "PODIUM_GATEWAY_RATE_LIMIT_LOGIN_IP": "1000000000",
        }
    )
    for name in SERVICES:
        env[f"PODIUM_GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{ports[name]}"
    return env


def row(name: str, values: list[float]) -> str:
    """One line of a table: count, p50, p95 and max in milliseconds."""
    return (
        f"{name:<34}{len(values):>6}{statistics.median(values) * 1000:>10.0f}"
        f"{percentile(values, 0.95) * 1000:>10.0f}{max(values) * 1000:>10.0f}"
    )


async def main() -> None:
    """Start everything, measure, print the tables."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        workdir = Path(tmp)
        infra = await TestInfrastructure.start(workdir / "infra")
        processes: list[subprocess.Popen[bytes]] = []
        try:
            await infra.migrate("identity", "competitions", "scoring")
            ports = {name: free_port() for name in SERVICES}
            await start_ready(SERVICES, environment(infra, workdir, ports), ports, processes)
            gateway = f"http://127.0.0.1:{ports['gateway']}"
            async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
                stack = PredictionStack(
                    gateway, http, infra.topic_prefix, infra.infra.kafka_bootstrap_servers
                )
                await stack.warm_up()
                owner = await stack.sign_up("Sponsor")
                competition = await stack.prediction_competition(owner, daily_submission_limit=1000)
                csv, row_ids, targets = answer_key(seed=3, rows=ROWS)
                await stack.upload_key(competition["id"], owner, csv)
                users = await stack.sign_up_many(SUBMITTERS)
                for user in users:
                    await stack.join(competition["id"], user, timeout=30)
                rng = np.random.default_rng(1)
                files = [
                    predictions_csv(row_ids, targets * rng.random() + rng.random(ROWS))
                    for _ in users
                ]
                arrived: dict[tuple[str, int], asyncio.Event] = {}
                ids: dict[tuple[str, int], str] = {}
                listening = asyncio.Event()
                stream = asyncio.create_task(watch_stream(stack, competition["id"], listening))
                await asyncio.wait_for(listening.wait(), timeout=30)
                lean = LeanClient(gateway)
                pids = {"bench": os.getpid()}
                pids.update({s: p.pid for s, p in zip(SERVICES, processes, strict=True)})
                groups = process_groups(pids, str(workdir))
                cpu_before = cpu_seconds(pids, groups)
                spies = profiled(pids)
                deadline = time.monotonic() + SECONDS
                started = time.perf_counter()
                watcher = asyncio.create_task(
                    watch_board(lean, competition["id"], owner, arrived, deadline, ids)
                )
                await asyncio.gather(
                    *(
                        submitter(lean, competition["id"], user, file, deadline, arrived, ids)
                        for user, file in zip(users, files, strict=True)
                    )
                )
                await watcher
                elapsed = time.perf_counter() - started
                await lean.close()
                landed = sum(1 for t in STAGES.values() if "visible" in t)
                # Postgres backends the pools opened meanwhile count too (from zero).
                later = process_groups(pids, str(workdir))
                groups = {name: members | later[name] for name, members in groups.items()}
                cost = cpu_cost(cpu_before, cpu_seconds(pids, groups), elapsed, landed)
                unprofiled(spies)
                await read_stages(infra.database_url)
                # The last pushes may trail the last read by a few milliseconds.
                newest = max((t.get("ranking", 0.0) for t in STAGES.values()), default=0.0)
                for _ in range(50):
                    if VERSIONS and VERSIONS[-1][0] >= newest:
                        break
                    CHANGED.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(CHANGED.wait(), timeout=0.1)
                await read_stages(infra.database_url)
                stream.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stream
        finally:
            stop(processes)
            infra.stop()
    loop = "closed loop" + (f", {THINK_MS:.0f} ms think time" if THINK_MS else "")
    print(f"\n{SUBMITTERS} submitters x {PER_USER} files of {ROWS} rows ({loop}), {elapsed:.1f} s")
    print(f"{'measure':<34}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, end in (
        ("POST -> 202 (queued)", "accepted"),
        ("POST -> on leaderboard", "visible"),
        ("POST -> SSE event", "pushed"),
    ):
        values = [t[end] - t["posted"] for t in STAGES.values() if end in t]
        if values:
            print(row(name, values))
    print(f"{'throughput (submissions/s)':<34}{landed / elapsed:>6.1f}")
    print(f"\n{'stage':<34}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for start, end, name in STAGE_NAMES:
        spans = [t[end] - t[start] for t in STAGES.values() if start in t and end in t]
        if spans:
            print(row(name, spans))
    print(f"\n{cost} (an operation: a submission on the board)")


if __name__ == "__main__":
    asyncio.run(main())

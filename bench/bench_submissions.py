"""Submission-to-leaderboard latency through the gateway, with 20 concurrent submitters.

Starts its own infrastructure (environment URLs or embedded, via
`TestInfrastructure`), then identity, competitions, scoring and the gateway in
this process on loopback (the same stack the end-to-end tests use). Each
submitter uploads prediction files one after another; a submission counts as
done when the public leaderboard, read anonymously through the gateway, shows
the submitter's entry with that many submissions. The figure therefore covers
the upload, the blob store, Kafka, scoring with numpy, the competitions
projection, its Redis mirror and the gateway's read. Bounded by a submission
count and a time limit.

A second watcher holds the board's Server-Sent Events stream open through the
gateway (`GET /v1/competitions/{id}/leaderboard/stream`), as a projector or an
embedded board does: "POST -> SSE event" is the time until the first event
announcing a board version that includes the submission. The board reader
reads the page whenever the stream announces a change (at the latest every
second), as a live page does; `BENCH_POLL_MS=<ms>` makes it poll on a timer
instead (the benchmark's reader before ADR 0078, 20 ms). The services run with
their production settings where the test defaults differ for speed of the
tests (competitions' auto-end sweep every 5 s, not every 0.2 s).

A second table splits that time into stages, from timestamps taken around the
scoring and leaderboard use cases (wrapped here, in the benchmark only) and at
their commits: where a submission waits is where the path needs work.

`BENCH_PROFILE=<file>` samples this process with py-spy during the timed phase
only (raw collapsed stacks, the services' threads included).

Usage: python bench/bench_submissions.py [submissions_per_user] [seconds]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import podium_competitions.leaderboard.service as board_service
import podium_scoring.service as scoring_service
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_runtime.db import after_commit
from podium_runtime.testing import TestInfrastructure

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from platform_support.stack import User
from submissions_support.stack import (
    PredictionStack,
    answer_key,
    prediction_stack,
    predictions_csv,
)

PER_USER = int(sys.argv[1]) if len(sys.argv) > 1 else 5
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
SUBMITTERS = 20
ROWS = 2000


#: BENCH_POLL_MS=<ms>: the board reader polls on this timer instead of reading on each push.
POLL_MS = float(os.environ.get("BENCH_POLL_MS", "0"))
#: Set by the stream watcher on every board event; the reader reads the board then.
CHANGED = asyncio.Event()

#: BENCH_PROFILE=<file>: py-spy samples this process during the timed phase.
PROFILE = os.environ.get("BENCH_PROFILE")


def profiled() -> subprocess.Popen[bytes] | None:
    """Start py-spy on this process (raw stacks in PROFILE) until `unprofiled`."""
    if not PROFILE:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--pid", str(os.getpid()), "-r", "50", "-f", "raw"]
    command += ["-o", PROFILE, "--nonblocking", "--threads"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def unprofiled(spy: subprocess.Popen[bytes] | None) -> None:
    """Stop py-spy; it writes its file on the interrupt."""
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


#: Instants (perf_counter) of each submission's stages, by submission id.
STAGES: dict[str, dict[str, float]] = defaultdict(dict)
STAGE_NAMES = (
    ("posted", "accepted", "POST -> 202"),
    ("accepted", "scoring", "202 -> scoring starts"),
    ("scoring", "scored", "scoring, committed"),
    ("scored", "ranking", "scored -> board update starts"),
    ("ranking", "ranked", "board update, committed"),
    ("ranked", "visible", "committed -> read on the board"),
    ("ranked", "pushed", "committed -> SSE event"),
)


#: Board version (`as_of`) each unit of work of the board update staged, by session.
VERSIONS: dict[int, datetime] = {}
#: Board version that first includes each submission, by submission id.
INCLUDED_IN: dict[str, datetime] = {}


def _timed(function: Any, start: str, end: str) -> Any:
    """Wrap a use case `f(session, ..., data or [data, ...])` to stamp its start and commit."""

    async def wrapper(session: Any, *args: Any, **kwargs: Any) -> Any:
        given = args[-1] if isinstance(args[-1], list) else [args[-1]]
        # Scoring's batch takes envelopes, the board update their data.
        submissions = [str(getattr(item, "data", item).submission_id) for item in given]
        for submission_id in submissions:
            STAGES[submission_id][start] = time.perf_counter()
        result = await function(session, *args, **kwargs)
        version = VERSIONS.pop(id(session), None)

        def committed() -> None:
            for submission_id in submissions:
                STAGES[submission_id][end] = time.perf_counter()
                if version is not None:
                    INCLUDED_IN.setdefault(submission_id, version)

        after_commit(session, committed)
        return result

    return wrapper


def _versioned(stage_delta: Any) -> Any:
    """Wrap `LeaderboardMirror.stage_delta` to note the public board version a unit stages."""

    def wrapper(self: Any, session: Any, competition_id: Any, split: str, delta: Any) -> None:
        if split == "public":
            VERSIONS[id(session)] = delta.as_of
        stage_delta(self, session, competition_id, split, delta)

    return wrapper


scoring_service.score_submission = _timed(scoring_service.score_submission, "scoring", "scored")
if hasattr(scoring_service, "score_submissions"):  # scoring a poll at a time (ADR 0063)
    scoring_service.score_submissions = _timed(
        scoring_service.score_submissions, "scoring", "scored"
    )
board_service.record_scores = _timed(board_service.record_scores, "ranking", "ranked")
LeaderboardMirror.stage_delta = _versioned(LeaderboardMirror.stage_delta)  # type: ignore[method-assign]


#: Set whenever the stream watcher times a push.
PUSHED = asyncio.Event()


async def _all_pushed(pushed: list[float], count: int) -> None:
    """Return once `count` pushes were timed."""
    while len(pushed) < count:
        PUSHED.clear()
        await PUSHED.wait()


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def submitter(
    stack: PredictionStack,
    competition_id: str,
    user: User,
    csv: bytes,
    deadline: float,
    accepted: list[float],
    sent: dict[tuple[str, int], float],
    arrived: dict[tuple[str, int], asyncio.Event],
    ids: dict[tuple[str, int], str],
) -> None:
    """Submit `PER_USER` files in turn, each once the previous one reached the board."""
    for count in range(1, PER_USER + 1):
        if time.monotonic() > deadline:
            return
        started = time.perf_counter()
        made = await stack.submit(competition_id, user, csv)
        assert made.status_code == 202, made.text
        accepted.append(time.perf_counter() - started)
        ids[(user.user_id, count)] = made.json()["id"]
        STAGES[made.json()["id"]].update(posted=started, accepted=time.perf_counter())
        sent[(user.user_id, count)] = started
        signal = arrived.setdefault((user.user_id, count), asyncio.Event())
        try:
            await asyncio.wait_for(signal.wait(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return


async def watch_board(
    stack: PredictionStack,
    competition_id: str,
    owner: User,
    sent: dict[tuple[str, int], float],
    arrived: dict[tuple[str, int], asyncio.Event],
    landed: list[float],
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
        got = await stack.http.get(
            f"/v1/competitions/{competition_id}/leaderboard",
            params={"limit": 100},
            headers=owner.auth,
        )
        now = time.perf_counter()
        for entry in got.json().get("entries", []):
            for count in range(1, entry["submissions"] + 1):
                key = (entry["user_id"], count)
                if key in sent and key not in seen:
                    seen.add(key)
                    landed.append(now - sent[key])
                    STAGES[ids[key]]["visible"] = now
                    arrived.setdefault(key, asyncio.Event()).set()
        if POLL_MS:
            await asyncio.sleep(POLL_MS / 1000)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(CHANGED.wait(), timeout=1.0)


async def watch_stream(
    stack: PredictionStack,
    competition_id: str,
    sent: dict[tuple[str, int], float],
    ids: dict[tuple[str, int], str],
    pushed: list[float],
    ready: asyncio.Event,
) -> None:
    """Hold the board's SSE stream open (anonymously) and time each version's event."""
    seen: set[str] = set()
    url = f"/v1/competitions/{competition_id}/leaderboard/stream"
    async with stack.http.stream("GET", url, timeout=None) as response:
        assert response.status_code == 200, await response.aread()
        ready.set()
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            now = time.perf_counter()
            CHANGED.set()
            stamp = json.loads(line.removeprefix("data: ")).get("as_of")
            if stamp is None:
                continue
            version = datetime.fromisoformat(stamp)
            for key, submission_id in list(ids.items()):
                included = INCLUDED_IN.get(submission_id)
                if submission_id in seen or included is None or included > version:
                    continue
                seen.add(submission_id)
                pushed.append(now - sent[key])
                STAGES[submission_id]["pushed"] = now
                PUSHED.set()


async def main() -> None:
    """Run the benchmark and print a table."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        infra = await TestInfrastructure.start(Path(tmp) / "infra")
        try:
            # Production's sweep interval, not the tests' 0.2 s (a query 5 times a second).
            production = {"auto_end_interval_seconds": 5.0}
            async with prediction_stack(infra, Path(tmp), competitions=production) as stack:
                owner = await stack.sign_up("Sponsor")
                competition = await stack.prediction_competition(owner, daily_submission_limit=1000)
                csv, ids, targets = answer_key(seed=3, rows=ROWS)
                await stack.upload_key(competition["id"], owner, csv)
                users = await stack.sign_up_many(SUBMITTERS)
                for user in users:
                    await stack.join(competition["id"], user, timeout=30)
                rng = np.random.default_rng(1)
                files = [
                    predictions_csv(ids, targets * rng.random() + rng.random(ROWS)) for _ in users
                ]
                accepted: list[float] = []
                landed: list[float] = []
                pushed: list[float] = []
                sent: dict[tuple[str, int], float] = {}
                arrived: dict[tuple[str, int], asyncio.Event] = {}
                ids: dict[tuple[str, int], str] = {}
                listening = asyncio.Event()
                stream = asyncio.create_task(
                    watch_stream(stack, competition["id"], sent, ids, pushed, listening)
                )
                await asyncio.wait_for(listening.wait(), timeout=30)
                spy = profiled()
                deadline = time.monotonic() + SECONDS
                started, used = time.perf_counter(), time.process_time()
                watcher = asyncio.create_task(
                    watch_board(
                        stack, competition["id"], owner, sent, arrived, landed, deadline, ids
                    )
                )
                await asyncio.gather(
                    *(
                        submitter(
                            stack,
                            competition["id"],
                            user,
                            file,
                            deadline,
                            accepted,
                            sent,
                            arrived,
                            ids,
                        )
                        for user, file in zip(users, files, strict=True)
                    )
                )
                await watcher
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - used
                unprofiled(spy)
                # The last pushes may trail the last read by a few milliseconds.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_all_pushed(pushed, len(landed)), timeout=5)
                stream.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stream
        finally:
            infra.stop()
    print(f"\n{SUBMITTERS} submitters x {PER_USER} files of {ROWS} rows, {elapsed:.1f} s wall")
    print(f"{'measure':<34}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    measures = (
        ("POST -> 202 (queued)", accepted),
        ("POST -> on leaderboard", landed),
        ("POST -> SSE event", pushed),
    )
    for name, values in measures:
        if values:
            print(
                f"{name:<34}{len(values):>6}{statistics.median(values) * 1000:>10.0f}"
                f"{percentile(values, 0.95) * 1000:>10.0f}{max(values) * 1000:>10.0f}"
            )
    print(f"{'throughput (submissions/s)':<34}{len(landed) / elapsed:>6.1f}")
    # Every service runs in this process: its CPU time per submission depends far less
    # on the machine's load than the latencies (Postgres, Redis and Kafka not counted).
    print(f"{'CPU ms per submission (services)':<34}{cpu * 1000 / max(1, len(landed)):>6.0f}")
    print(f"\n{'stage':<34}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for start, end, name in STAGE_NAMES:
        spans = [t[end] - t[start] for t in STAGES.values() if start in t and end in t]
        if spans:
            print(
                f"{name:<34}{len(spans):>6}{statistics.median(spans) * 1000:>10.0f}"
                f"{percentile(spans, 0.95) * 1000:>10.0f}{max(spans) * 1000:>10.0f}"
            )


if __name__ == "__main__":
    asyncio.run(main())

"""Board updates and deep pages at 100 and 100,000 entries (issue #14, ADR 0044).

Starts an embedded Postgres (competitions' real migrations) and Redis, fills a
board of each size with one scored submission per participant (bulk insert, then
one full rank as `recompute_board` does: the per-event cost before ADR 0044),
then times score events through `leaderboard.service.record_scores`, each in its
own committed unit of work with its Redis delta applied, as the consumer runs a
poll of one. Events are resubmissions by existing participants: half are not better
than their best (the line stays put), half improve it a little (the line climbs
past a few neighbours, each told by `leaderboard.rank_changed`). The "polls" row
gives the consumer a burst's worth at once (`BENCH_BURST`, default 20 scores per
unit of work, as it takes them near a deadline); its times are per event, the
unit's time shared by its events. A last row times arrivals in the middle of the
board, the worst case: every line below shifts.
Below the table the 100,000-entry resubmissions are split into events that moved
no line and events that moved lines: the second kind makes the p95. A least-squares
line over the events' rank changes splits their time into what every event pays and
what each line passed adds (its shift on both boards and its `rank_changed`).

Pages: the first page and the page at offset 50,000 (100 lines) as the gateway
reads them from Redis (its page script: ZRANGE by index, then HMGET of the members;
a line's rank is its position, ADR 0091), with their ratio. Pages are served only from Redis;
Postgres keeps no index on `rank` (ADR 0089).

The benchmark's own bookkeeping of the filled board (a score per participant) is
frozen out of garbage collection once filled (`freeze_harness`), as a service
freezes its start-up heap: the measured code's collections do not walk it.

It runs on uvloop, the event loop the services run on (uvicorn picks it when
installed, and the image installs it).

"CPU ms/event" is this process's CPU time per event (the services' Python side):
unlike the times it hardly depends on how busy the machine is. "Postgres" and
"Redis" are the CPU time of this run's Postgres and Redis processes per event, read
from /proc around each row (10 ms ticks); Postgres's includes the benchmark's own
read and delete of each event's announcements, about 0.1 ms. The service waits on
both, so their CPU is part of an event's time too.

Usage: python bench/bench_boards.py [events]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as redis
import uvloop
from _support import cpu_seconds, freeze_harness, percentile, process_groups
from podium_competitions import service as competitions_service
from podium_competitions.boards import BOARD_SCRIPTS, BoardWriter
from podium_competitions.leaderboard import service
from podium_competitions.leaderboard.mirror import LeaderboardMirror, board_keys
from podium_competitions.leaderboard.models import leaderboard_submissions
from podium_competitions.models import metadata
from podium_competitions.schemas import CompetitionCreate
from podium_competitions.views import Caller
from podium_contracts.events import ScoredData
from podium_gateway.read_model import PAGE_SCRIPT
from podium_runtime.db import Database
from podium_runtime.infra import start_redis
from podium_runtime.outbox import Outbox, messaging_tables, row_payloads
from podium_runtime.rollback import migrated_database
from podium_runtime.script_line import ScriptLine
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
SIZES = (100, 100_000)
#: Scores per unit of work in the "polls" row: what the consumer takes at once in a burst.
BURST = int(os.environ.get("BENCH_BURST", "20"))
PAGE = 100


async def fill(
    db: Database, size: int, mirror: LeaderboardMirror
) -> tuple[uuid.UUID, dict[str, Any]]:
    """Create a competition whose board has `size` lines; return it, best score per user."""
    owner = uuid.uuid4()
    now = datetime.now(UTC)
    rng = random.Random(size)
    best = {uuid.uuid4(): rng.random() for _ in range(size)}
    async with db.session() as session:
        created = await competitions_service.create_competition(
            session,
            Outbox(messaging_tables(metadata).outbox, ""),
            Caller(owner),
            CompetitionCreate.model_validate(
                {
                    "kind": "prediction",
                    "title": "Bench",
                    "status": "active",
                    "starts_at": now - timedelta(days=1),
                    "ends_at": now + timedelta(days=7),
                    "metric": "auc_roc",
                }
            ),
        )
        competition_id = created.id
        rows = [
            {
                "submission_id": uuid.uuid4(),
                "competition_id": competition_id,
                "user_id": user_id,
                "higher_is_better": True,
                "public_score": score,
                "private_score": score,
                "submitted_at": now - timedelta(hours=1, microseconds=i),
                "scored_at": now,
            }
            for i, (user_id, score) in enumerate(best.items())
        ]
        for start in range(0, len(rows), 5000):
            await session.execute(insert(leaderboard_submissions), rows[start : start + 5000])
    started = time.perf_counter()
    async with db.session() as session:
        await service.recompute_board(session, None, mirror, competition_id)
    await mirror.writer.flush()
    async with db.session() as session:
        # A board filled in one go has no statistics yet; a growing one gets them from
        # autovacuum. Without them the planner would not pick the order index.
        await session.execute(text("ANALYZE competitions.leaderboard_entries"))
        await session.execute(text("ANALYZE competitions.leaderboard_submissions"))
    return competition_id, {"best": best, "rebuild": time.perf_counter() - started}


@dataclass(frozen=True)
class Timed:
    """One row's score events: seconds and rank changes per event, CPU seconds per event.

    `cpu` is this process's: the Python side of an event, which depends far less on
    the machine's load than its time. `infra` is the CPU seconds per event of this
    run's Postgres and of its Redis, by name.
    """

    times: list[float]
    moves: list[int]
    cpu: float
    infra: dict[str, float]


async def score_events(
    db: Database,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
    best: dict[uuid.UUID, float],
    *,
    workdir: str,
    arrivals: bool,
    events: int = EVENTS,
    burst: int = 1,
) -> Timed:
    """Time `events` score events (commit and Redis delta included).

    `workdir` is the run's work directory, where its Postgres and Redis are found.

    With `burst` > 1 the events come as the consumer takes a poll of them near a
    deadline: `burst` scores of different participants in one unit of work
    (`record_scores`). Each unit's time and moves are then shared by its events.
    """
    rng = random.Random(7)
    users = list(best)
    times: list[float] = []
    moves: list[int] = []
    cpu = 0.0
    # Postgres's backends are found now: the pool has opened its connections by the fill.
    groups = process_groups({}, workdir)
    infra_before = cpu_seconds({}, groups)
    for _ in range(events // burst):
        scores = [_score(rng, users, best, competition_id, arrivals) for _ in range(burst)]
        started, used = time.perf_counter(), time.process_time()
        async with db.session() as session:
            await service.record_scores(session, outbox, mirror, scores)
        await mirror.writer.flush()
        times.append((time.perf_counter() - started) / burst)
        cpu += time.process_time() - used
        async with db.session() as session:
            moves.append(round(await _announced(session, outbox) / burst))
    infra_after = cpu_seconds({}, groups)
    count = len(times) * burst
    infra = {
        name: max(infra_after.get(name, 0.0) - infra_before.get(name, 0.0), 0.0) / count
        for name in ("postgres", "redis")
    }
    return Timed(times, moves, cpu / count, infra)


def _score(
    rng: random.Random,
    users: list[uuid.UUID],
    best: dict[uuid.UUID, float],
    competition_id: uuid.UUID,
    arrival: bool,
) -> ScoredData:
    """The next score event: an arrival mid-board, or a resubmission (half of them better)."""
    if arrival:
        user_id, score = uuid.uuid4(), 0.5 + rng.random() * 1e-6
    else:
        user_id = rng.choice(users)
        # Half do not beat their best; half beat it by about 50 neighbours' worth.
        gain = rng.expovariate(len(users) / 50) if rng.random() < 0.5 else -0.01
        score = min(1.0, best[user_id] + gain)
        best[user_id] = max(best[user_id], score)
    now = datetime.now(UTC)
    return ScoredData(
        submission_id=uuid.uuid4(),
        competition_id=competition_id,
        user_id=user_id,
        metric="auc_roc",
        higher_is_better=True,
        public_score=score,
        private_score=score,
        submitted_at=now,
        scored_at=now,
    )


async def _announced(session: AsyncSession, outbox: Outbox) -> int:
    """Return and clear how many rank changes the last event announced."""
    table = outbox.table
    payloads = (await session.scalars(select(table.c.payload))).all()
    await session.execute(table.delete())
    return sum(len(row_payloads(payload)) for payload in payloads)


async def page_time(client: redis.Redis, competition_id: uuid.UUID, offset: int) -> float:
    """Return the median time of reading one page at `offset` as the gateway does."""
    keys = board_keys(competition_id, "public")
    times = []
    for _ in range(50):
        started = time.perf_counter()
        joined, _meta = await client.eval(PAGE_SCRIPT, 3, *keys, offset, offset + PAGE - 1)
        times.append(time.perf_counter() - started)
        rows = joined.split(b"\n")
        assert len(rows) == PAGE and all(rows)
    return statistics.median(times)


def print_row(label: str, timed: Timed, rebuild: float | None = None) -> None:
    """Print one row of the score events' table (the full rank's time where there is one)."""
    full_rank = f"{rebuild * 1000:>14.0f}" if rebuild is not None else f"{'':>14}"
    print(
        f"{label:<42}{statistics.median(timed.times) * 1000:>9.2f}"
        f"{percentile(timed.times, 0.95) * 1000:>9.2f}{statistics.mean(timed.moves):>13.1f}"
        f"{full_rank}{timed.cpu * 1000:>14.2f}{timed.infra['postgres'] * 1000:>10.2f}"
        f"{timed.infra['redis'] * 1000:>7.2f}"
    )


def print_kinds(label: str, timed: Timed) -> None:
    """Print a row's events that moved no line apart from those that moved lines.

    Each moved line costs a shifted row on both boards and a `rank_changed` in the outbox
    (Redis writes only the line placed, ADR 0091), so the moving events make the p95.
    """
    for kind, chosen in (
        ("no line moved", [t for t, m in zip(timed.times, timed.moves, strict=True) if m == 0]),
        ("lines moved", [t for t, m in zip(timed.times, timed.moves, strict=True) if m > 0]),
    ):
        if chosen:
            print(
                f"  {label}, {kind}: {len(chosen)} events, p50 "
                f"{statistics.median(chosen) * 1000:.2f} / p95 "
                f"{percentile(chosen, 0.95) * 1000:.2f} ms"
            )
    # Each event's time fitted to a line over the ranks it moved (least squares): what
    # every event pays, and what each line passed adds.
    per_move, fixed = np.polyfit(np.array(timed.moves, dtype=float), np.array(timed.times), 1)
    moving = [m for m in timed.moves if m > 0]
    print(
        f"  {label}: {fixed * 1000:.2f} ms + {per_move * 1e6:.1f} us per rank change;"
        f" rank changes of the events that moved lines: p50 {statistics.median(moving or [0]):.0f}"
        f" / p95 {percentile([float(m) for m in moving] or [0.0], 0.95):.0f}"
    )


async def main() -> None:
    """Run the benchmark and print its tables."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-boards-") as tmp:
        url, stop_postgres = await migrated_database(Path(tmp) / "pg", ("competitions",))
        redis_url, stop_redis = start_redis(Path(tmp))
        db = Database(url, pool_size=4)
        client = redis.Redis.from_url(redis_url)
        # As the service runs: board deltas on a pipelined connection of their own (ADR 0101).
        line = ScriptLine(redis_url, BOARD_SCRIPTS)
        mirror = LeaderboardMirror(BoardWriter(client, line=line))
        outbox = Outbox(messaging_tables(metadata).outbox, "")
        results: dict[int, dict[str, Any]] = {}
        try:
            for size in SIZES:
                competition_id, filled = await fill(db, size, mirror)
                freeze_harness()
                print(f"board of {size:,} filled and ranked in {filled['rebuild']:.1f} s")
                board = (db, outbox, mirror, competition_id, filled["best"])
                updates = await score_events(*board, workdir=tmp, arrivals=False)
                first = await page_time(client, competition_id, 0)
                deep = await page_time(client, competition_id, min(50_000, size - PAGE))
                bursts = middle = None
                if size == max(SIZES):
                    bursts = await score_events(*board, workdir=tmp, arrivals=False, burst=BURST)
                    middle = await score_events(*board, workdir=tmp, arrivals=True, events=2)
                results[size] = {
                    "rebuild": filled["rebuild"],
                    "updates": updates,
                    "first": first,
                    "deep": deep,
                    "bursts": bursts,
                    "middle": middle,
                }
        finally:
            await line.aclose()
            await client.aclose()
            await db.engine.dispose()
            stop_redis()
            stop_postgres()
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print(f"\nScore events ({EVENTS} per row), each its own unit of work with its Redis delta")
    print(
        f"{'board':<42}{'p50 ms':>9}{'p95 ms':>9}{'moves/event':>13}{'full rank ms':>14}"
        f"{'CPU ms/event':>14}{'Postgres':>10}{'Redis':>7}"
    )
    for size, row in ((SIZES[0], small), (SIZES[-1], large)):
        print_row(f"{size:,} entries, resubmissions", row["updates"], row["rebuild"])
    if large["bursts"]:
        print_row(f"{SIZES[-1]:,} entries, polls of {BURST} (per event)", large["bursts"])
    if large["middle"]:
        print_row(f"{SIZES[-1]:,} entries, arrival mid-board", large["middle"])
    print_kinds(f"{SIZES[-1]:,} entries, resubmissions", large["updates"])
    ratio = percentile(large["updates"].times, 0.95) / percentile(small["updates"].times, 0.95)
    print(
        f"p95 ratio 100,000 / 100 entries: {ratio:.2f} (a full rank per event: "
        f"{large['rebuild'] / small['rebuild']:.0f}x)"
    )
    print(f"\nPages of {PAGE} lines on the {SIZES[-1]:,}-entry board (median of 50)")
    print(f"{'source':<24}{'first ms':>10}{'offset 50,000 ms':>18}{'ratio':>8}")
    first_ms, deep_ms = large["first"] * 1000, large["deep"] * 1000
    ratio = deep_ms / first_ms
    print(f"{'Redis (gateway read)':<24}{first_ms:>10.2f}{deep_ms:>18.2f}{ratio:>8.2f}")


if __name__ == "__main__":
    uvloop.run(main())  # the services' loop (uvicorn picks uvloop)

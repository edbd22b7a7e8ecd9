"""Activity points: one statement's cost on boards of 100 to 20,000 learners (ADR 0094).

Starts an embedded Postgres (competitions' real migrations) and Redis, and for each
size fills an activity competition's points ledger (learners x statements each, over
the last three weeks, bulk insert), then ranks its boards whole once, as
`recompute_boards` does: that was the cost of every statement before ADR 0094, and
its time is the "whole rank" column. Then it times statements through
`activity.service.record_statements`, each in its own committed unit of work with its
Redis deltas applied, as the consumer runs them: learners picked at random earn
10 points today, and climb past the lines they overtake, each told by
`leaderboard.rank_changed`.

A second row per size posts the same number of statements 10 at a time, one learner's
per unit of work, as a tool posts a batch (ingest announces it as one event) and
`record_statements` awards it together (ADR 0095); its times are per unit of work.

The benchmark's own bookkeeping is frozen out of garbage collection once a board is
ranked (`freeze_harness`), as a service freezes its start-up heap.

It runs on uvloop, the event loop the services run on (uvicorn picks it when
installed, and the image installs it).

"CPU ms/stmt" is this process's CPU time per statement (the service's Python side;
Postgres and Redis run in their own processes). "fixed ms" and "us/move" fit each
statement's time to a line over the ranks it moved (least squares): the part any
statement pays, and the part each line passed adds (its shift and its
`rank_changed`), which is what a board's size should not change.

Usage: python bench/bench_activity.py [statements]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import redis.asyncio as redis
import uvloop
from _support import freeze_harness, percentile
from podium_competitions.activity import service
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.activity.models import activity_points
from podium_competitions.boards import BOARD_SCRIPTS, BoardWriter
from podium_competitions.models import competitions, enrollments, metadata, users
from podium_contracts.events import LearningData
from podium_runtime.db import Database
from podium_runtime.infra import start_redis
from podium_runtime.outbox import Outbox, messaging_tables, row_payloads
from podium_runtime.rollback import migrated_database
from podium_runtime.script_line import ScriptLine
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

STATEMENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
#: (learners, statements each already in the ledger).
SIZES = ((100, 10), (2_000, 50), (20_000, 20))
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
#: The learning tool posting every statement (the competition counts any).
TOOL = uuid.uuid4()
#: Statements per batch in the batch rows: one learner's, as one request of a tool posts them.
BATCH = 10
RULES = {"points": [{"verb": COMPLETED, "points": 10}], "daily_cap": 1_000_000}


async def fill(db: Database, learners: int, each: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Create an activity competition with `learners` enrolled, `each` statements apiece."""
    now = datetime.now(UTC)
    competition_id = uuid.uuid4()
    people = [uuid.uuid4() for _ in range(learners)]
    rng = random.Random(learners)
    async with db.session() as session:
        await session.execute(
            insert(competitions).values(
                id=competition_id,
                owner_id=uuid.uuid4(),
                kind="activity",
                title="Bench",
                visibility="public",
                status="active",
                starts_at=now - timedelta(days=30),
                ends_at=now + timedelta(days=30),
                timezone="UTC",
                rules=RULES,
                any_lrs_client=True,
            )
        )
        for start in range(0, learners, 5000):
            chunk = people[start : start + 5000]
            await session.execute(
                insert(users),
                [
                    {"user_id": u, "display_name": f"Learner {u.hex[:6]}", "timezone": "UTC"}
                    for u in chunk
                ],
            )
            await session.execute(
                insert(enrollments),
                [
                    {"competition_id": competition_id, "user_id": u, "status": "accepted"}
                    for u in chunk
                ],
            )
        rows = []
        for user_id in people:
            for _ in range(each):
                at = now - timedelta(days=1 + rng.random() * 20)
                rows.append(
                    {
                        "competition_id": competition_id,
                        "statement_id": uuid.uuid4(),
                        "user_id": user_id,
                        "verb": COMPLETED,
                        "activity_id": "https://lessons.example/1",
                        "occurred_at": at,
                        "participant_day": at.date(),
                        "board_day": at.date(),
                        "base_points": 10.0,
                        "points": float(rng.randint(1, 10)),
                    }
                )
        for start in range(0, len(rows), 5000):
            await session.execute(insert(activity_points), rows[start : start + 5000])
    async with db.session() as session:
        await session.execute(text("ANALYZE competitions.activity_points"))
    return competition_id, people


def _statement(user_id: uuid.UUID) -> LearningData:
    return LearningData(
        actor=f"account:https://bench.test|{user_id}",
        statement_id=uuid.uuid4(),
        user_id=user_id,
        verb=COMPLETED,
        activity_id="https://lessons.example/2",
        timestamp=datetime.now(UTC),
        scaled_score=None,
        voided=False,
        lrs_client_id=TOOL,
    )


async def _announced(session: AsyncSession, outbox: Outbox) -> int:
    """Return and clear how many rank changes the last statement announced."""
    table = outbox.table
    payloads = (
        await session.scalars(
            select(table.c.payload).where(table.c.event_type == "leaderboard.rank_changed")
        )
    ).all()
    await session.execute(table.delete())
    return sum(len(row_payloads(payload)) for payload in payloads)


async def measure(
    db: Database, mirror: ActivityBoardMirror, outbox: Outbox, learners: int, each: int
) -> dict[str, float]:
    """Fill one competition, rank it whole once, then time `STATEMENTS` statements."""
    competition_id, people = await fill(db, learners, each)
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    async with db.session() as session:
        await service.rebuild_competition(session, mirror, competition_id, [today])
    await mirror.writer.flush()
    whole = time.perf_counter() - started
    freeze_harness()
    single = await _timed(db, mirror, outbox, people, 1)
    batched = await _timed(db, mirror, outbox, people, BATCH)
    per_move, fixed = np.polyfit(np.array(single.moves, dtype=float), np.array(single.times), 1)
    return {"fixed": float(fixed), "per_move": float(per_move), "whole": whole} | {
        f"{name}_{key}": value
        for name, timed in (("single", single), ("batch", batched))
        for key, value in (
            ("p50", statistics.median(timed.times)),
            ("p95", percentile(timed.times, 0.95)),
            ("moves", statistics.mean(timed.moves)),
            ("cpu", timed.cpu),
        )
    }


@dataclass(frozen=True)
class Timed:
    """Statements' times per unit of work, rank changes announced per unit, CPU per statement."""

    times: list[float]
    moves: list[int]
    cpu: float


async def _timed(
    db: Database,
    mirror: ActivityBoardMirror,
    outbox: Outbox,
    people: list[uuid.UUID],
    batch: int,
) -> Timed:
    """Time `STATEMENTS` statements through `record_statements`, `batch` of one learner's
    (as one posted request of a tool) per committed unit of work with its Redis deltas."""
    rng = random.Random(7 + batch)
    times: list[float] = []
    moves: list[int] = []
    cpu = 0.0
    for _ in range(STATEMENTS // batch):
        learner = rng.choice(people)
        facts = [_statement(learner) for _ in range(batch)]
        started, used = time.perf_counter(), time.process_time()
        async with db.session() as session:
            assert await service.record_statements(session, outbox, mirror, facts) == batch
        await mirror.writer.flush()
        times.append(time.perf_counter() - started)
        cpu += time.process_time() - used
        async with db.session() as session:
            moves.append(await _announced(session, outbox))
    return Timed(times, moves, cpu / (len(times) * batch))


async def main() -> None:
    """Run the benchmark and print its table."""
    with tempfile.TemporaryDirectory(prefix="podium-bench-activity-") as tmp:
        url, stop_postgres = await migrated_database(Path(tmp) / "pg", ("competitions",))
        redis_url, stop_redis = start_redis(Path(tmp))
        db = Database(url, pool_size=4)
        client = redis.Redis.from_url(redis_url)
        # As the service runs: board deltas on a pipelined connection of their own (ADR 0101).
        line = ScriptLine(redis_url, BOARD_SCRIPTS)
        mirror = ActivityBoardMirror(BoardWriter(client, line=line))
        outbox = Outbox(messaging_tables(metadata).outbox, "")
        results = {}
        try:
            for learners, each in SIZES:
                results[(learners, each)] = await measure(db, mirror, outbox, learners, each)
                print(f"{learners:,} learners measured", flush=True)
        finally:
            await line.aclose()
            await client.aclose()
            await db.engine.dispose()
            stop_redis()
            stop_postgres()
    print(
        f"\nStatements earning points ({STATEMENTS} per row): each its own unit of work, then"
        f" {BATCH} of one learner's per unit of work (times per unit)"
    )
    print(
        f"{'board':<46}{'p50 ms':>9}{'p95 ms':>9}{'moves/unit':>12}{'whole rank ms':>15}"
        f"{'CPU ms/stmt':>13}{'fixed ms':>10}{'us/move':>9}"
    )
    for (learners, each), row in results.items():
        label = f"{learners:,} learners, {learners * each:,} ledger rows"
        print(
            f"{label:<46}{row['single_p50'] * 1000:>9.2f}{row['single_p95'] * 1000:>9.2f}"
            f"{row['single_moves']:>12.1f}{row['whole'] * 1000:>15.0f}"
            f"{row['single_cpu'] * 1000:>13.2f}{row['fixed'] * 1000:>10.2f}"
            f"{row['per_move'] * 1e6:>9.1f}"
        )
        print(
            f"{'  batches of ' + str(BATCH):<46}{row['batch_p50'] * 1000:>9.2f}"
            f"{row['batch_p95'] * 1000:>9.2f}{row['batch_moves']:>12.1f}{'':>15}"
            f"{row['batch_cpu'] * 1000:>13.2f}"
            f"   CPU per statement {row['batch_cpu'] / row['single_cpu']:.2f}x of one at a time"
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print(
        f"p95 ratio {SIZES[-1][0]:,} / {SIZES[0][0]:,} learners: "
        f"{large['single_p95'] / small['single_p95']:.2f}"
        f" (the whole rank: {large['whole'] / small['whole']:.0f}x)"
    )


if __name__ == "__main__":
    uvloop.run(main())  # the services' loop (uvicorn picks uvloop)

"""Projection rebuilds and integrity checks of the competitions service (SPEC §10.5).

Prediction boards are ranked again from the scores competitions keeps
(`leaderboard_submissions`); activity boards from the points ledger. Each
board is recomputed in its own short transaction under the same lock the
consumers take, so a rebuild runs safely while events are being consumed: a
board is either rebuilt before an event's update or after it, never
interleaved. No rank-change events are emitted (nothing changed for users).
The result equals what the incremental path produces, because both run the
same `recompute_*` functions over the same source rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from podium_contracts.redis_keys import leaderboard_ranks_key, member_user_id
from podium_runtime.db import Database
from podium_runtime.deps import RuntimeDep
from podium_runtime.jobs import Job, JobProgress, JobStore
from pydantic import BaseModel, ConfigDict, Field

from podium_competitions.activity import repository as activity_repository
from podium_competitions.activity import service as activity_service
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.boards import BoardWriter
from podium_competitions.leaderboard import repository as leaderboard_repository
from podium_competitions.leaderboard import service as leaderboard_service
from podium_competitions.leaderboard.domain import SPLITS
from podium_competitions.leaderboard.mirror import LeaderboardMirror

router = APIRouter(prefix="/internal/v1", tags=["internal"])

Target = Literal["leaderboards", "activity_boards"]


class RebuildRequest(BaseModel):
    """Which projection to rebuild, for one competition or all."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    competition_id: uuid.UUID | None = None


async def rebuild_leaderboards(
    database: Database,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID | None,
    progress: JobProgress,
) -> dict[str, Any]:
    """Rank every (or one) competition's prediction boards again from its scores."""
    async with database.session() as session:
        known = await leaderboard_repository.boards_of(session)
    chosen = [c for c in known if competition_id is None or c == competition_id]
    await progress.total(len(chosen))
    for board in chosen:
        async with database.session() as session:
            await leaderboard_service.recompute_board(session, None, mirror, board)
        await progress.advance()
    return {"boards": len(chosen)}


async def rebuild_activity_boards(
    database: Database,
    mirror: ActivityBoardMirror,
    competition_id: uuid.UUID | None,
    progress: JobProgress,
) -> dict[str, Any]:
    """Rank every (or one) activity competition's boards again from the points ledger."""
    async with database.session() as session:
        days = await activity_repository.boards_in_ledger(session)
    chosen = [d for d in days if competition_id is None or d.competition_id == competition_id]
    await progress.total(len(chosen))
    for day in chosen:
        async with database.session() as session:
            await activity_repository.lock_competition(session, day.competition_id)
            await activity_service.recompute_boards(
                session, None, mirror, day.competition_id, day.board_day
            )
        await progress.advance()
    return {"board_days": len(chosen)}


def job_store(request: Request) -> JobStore:
    """Return the app's job store."""
    store = getattr(request.app.state, "jobs", None)
    if store is None:
        store = request.app.state.jobs = JobStore(request.app.state.runtime.redis)
    return store


@router.post("/rebuilds", status_code=202, response_model=Job)
async def start_rebuild(body: RebuildRequest, request: Request, runtime: RuntimeDep) -> Job:
    """Start a rebuild job; follow it with `GET /v1/admin/rebuilds/{job_id}` on the gateway."""
    competition_id = body.competition_id

    async def work(progress: JobProgress) -> dict[str, Any]:
        # Boards reach Redis after each transaction commits; the job ends once all are there.
        writer = BoardWriter(runtime.redis)
        try:
            if body.target == "leaderboards":
                mirror = LeaderboardMirror(writer)
                return await rebuild_leaderboards(runtime.db, mirror, competition_id, progress)
            activity_mirror = ActivityBoardMirror(writer)
            return await rebuild_activity_boards(
                runtime.db, activity_mirror, competition_id, progress
            )
        finally:
            await writer.flush()

    return await job_store(request).launch(f"rebuild.{body.target}", work)


# --- integrity (SPEC §10.5: boards whose Redis mirror differs from Postgres) ----------


class BoardMismatch(BaseModel):
    """A board whose Redis mirror does not rank the same participants as Postgres."""

    competition_id: uuid.UUID
    split: str
    postgres: int = Field(description="Ranked participants in Postgres")
    redis: int = Field(description="Ranked participants in the Redis mirror")


class IntegrityCheck(BaseModel):
    """One check's outcome; `repaired` lists what a repair rebuilt."""

    name: str
    ok: bool
    problems: list[BoardMismatch]
    repaired: int = 0


#: Boards compared per round of the integrity check: one query and one Redis pipeline each.
INTEGRITY_ROUND_BOARDS = 50
#: Mirror lines read from Redis per round trip: each reply stays small, and no command keeps
#: Redis (which serves every reader meanwhile) busy for long, whatever a board's size.
INTEGRITY_SLICE_LINES = 10_000


def slice_reads(sizes: Sequence[int], limit: int) -> list[list[tuple[int, int, int]]]:
    """Plan the reads of boards of `sizes` lines as round trips of at most `limit` lines.

    Returns the round trips in order, each a list of (board index, first, last) index
    ranges (inclusive, as ZRANGE takes them); a board larger than `limit` is read in
    slices, small ones share a round trip.
    """
    trips: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    room = limit
    for board, size in enumerate(sizes):
        first = 0
        while first < size:
            if room == 0:
                trips.append(current)
                current, room = [], limit
            count = min(size - first, room)
            current.append((board, first, first + count - 1))
            first += count
            room -= count
    if current:
        trips.append(current)
    return trips


async def mirror_mismatches(database: Database, client: Any) -> list[BoardMismatch]:
    """Compare every prediction board in Postgres with its Redis mirror (ranks by user).

    Boards go in rounds: one query reads a round's stored ranks, one pipeline the
    mirrors' sizes, and the mirrors of the boards whose sizes agree are read in slices
    of `INTEGRITY_SLICE_LINES` (`slice_reads`), so many small boards cost a few round
    trips and a board of 100,000 lines never one long command.
    """
    async with database.session() as session:
        competition_ids = await leaderboard_repository.boards_of(session)
    found = []
    for start in range(0, len(competition_ids), INTEGRITY_ROUND_BOARDS):
        chosen = competition_ids[start : start + INTEGRITY_ROUND_BOARDS]
        boards = [(competition_id, split) for competition_id in chosen for split in SPLITS]
        keys = [leaderboard_ranks_key(competition_id, split) for competition_id, split in boards]
        async with database.session() as session:
            stored = await leaderboard_repository.ranks_of_boards(session, chosen)
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(key)
            sizes: list[int] = await pipe.execute()
        ranks = [stored.get(board, {}) for board in boards]
        # A mirror of another size differs without reading it; the others are read.
        same_size = [size if size == len(ranks[i]) else 0 for i, size in enumerate(sizes)]
        mirrored: list[dict[uuid.UUID, int]] = [{} for _ in boards]
        for trip in slice_reads(same_size, INTEGRITY_SLICE_LINES):
            async with client.pipeline(transaction=False) as pipe:
                for board, first, last in trip:
                    pipe.zrange(keys[board], first, last)
                replies = await pipe.execute()
            # A line's rank is its position (ADR 0091).
            for (board, first, _), members in zip(trip, replies, strict=True):
                mirrored[board].update(
                    (uuid.UUID(member_user_id(member)), first + 1 + at)
                    for at, member in enumerate(members)
                )
        for (competition_id, split), size, stored_ranks, mirror in zip(
            boards, sizes, ranks, mirrored, strict=True
        ):
            if size != len(stored_ranks) or mirror != stored_ranks:
                found.append(
                    BoardMismatch(
                        competition_id=competition_id,
                        split=split,
                        postgres=len(stored_ranks),
                        redis=size,
                    )
                )
    return found


async def repair_boards(
    database: Database, mirror: LeaderboardMirror, competition_ids: set[uuid.UUID]
) -> int:
    """Rank the given prediction boards again, one transaction each; return how many."""
    for competition_id in sorted(competition_ids):
        async with database.session() as session:
            await leaderboard_service.recompute_board(session, None, mirror, competition_id)
    return len(competition_ids)


@router.get("/integrity", response_model=list[IntegrityCheck])
async def integrity(runtime: RuntimeDep, repair: bool = False) -> list[IntegrityCheck]:
    """Boards whose Redis mirror differs from Postgres; `repair` ranks them again."""
    problems = await mirror_mismatches(runtime.db, runtime.redis)
    repaired = 0
    if repair:
        mirror = LeaderboardMirror(BoardWriter(runtime.redis))
        repaired = await repair_boards(runtime.db, mirror, {p.competition_id for p in problems})
        await mirror.writer.flush()  # answer once Redis holds the repaired boards
    return [
        IntegrityCheck(
            name="leaderboard_mirror", ok=not problems, problems=problems, repaired=repaired
        )
    ]

"""Background jobs of the competitions service."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Literal

from podium_runtime.failures import FailureLog
from podium_runtime.runtime import BackgroundTask, ServiceRuntime

from podium_competitions import service
from podium_competitions.activity import service as activity_service
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.leaderboard import service as leaderboard_service
from podium_competitions.leaderboard.mirror import LeaderboardMirror

log = logging.getLogger(__name__)


def auto_end(runtime: ServiceRuntime, interval: float) -> BackgroundTask:
    """Return the job that ends active competitions once `ends_at` passed (SPEC §5.2).

    Safe with several replicas: each competition is ended by a single conditional UPDATE,
    and its `competition.updated` is staged in that same transaction.
    """
    assert runtime.outbox is not None
    outbox = runtime.outbox

    async def auto_end_competitions() -> None:
        while True:
            try:
                async with runtime.db.session() as session:
                    ended = await service.end_due_competitions(session, outbox)
                if ended:
                    log.info("competitions ended", extra={"count": ended})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auto-end sweep failed; retrying")
            await asyncio.sleep(interval)

    return auto_end_competitions


#: A board the last audit found missing or miscounted: its kind and competition.
Suspect = tuple[Literal["prediction", "activity"], uuid.UUID]


def mirror_audit(
    runtime: ServiceRuntime,
    leaderboards: LeaderboardMirror,
    activity_boards: ActivityBoardMirror,
    interval: float,
) -> BackgroundTask:
    """Return the job that keeps the Redis boards in line with Postgres (ADR 0031, 0092).

    At start it rewrites each board whose version in Redis is not the one in Postgres
    (a crash may have come between a commit and its Redis write), prediction and
    activity boards alike (ADR 0092, ADR 0094); then, every `interval` seconds, it
    rebuilds the boards that are missing from Redis or hold another number of lines
    than Postgres (a flush, lost data). Such a board is rebuilt when two audits in a
    row find it so: a board whose write is under way after its commit (seconds for
    100,000 lines, perhaps in another replica) is not taken for a lost one and ranked
    again for nothing.
    """
    failures = FailureLog(log)

    async def audit_board_mirrors() -> None:
        starting = True
        suspects: set[Suspect] = set()
        while True:
            try:
                repaired, suspects = await _repair_boards(
                    runtime, leaderboards, activity_boards, starting, suspects
                )
                starting = False
                failures.recovered()
                if repaired:
                    log.info("board mirrors rebuilt", extra={"boards": repaired})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures.log(logging.WARNING, "board mirror audit failed; retrying", exc)
            await asyncio.sleep(interval)

    return audit_board_mirrors


async def _repair_boards(
    runtime: ServiceRuntime,
    leaderboards: LeaderboardMirror,
    activity_boards: ActivityBoardMirror,
    starting: bool,
    suspects: set[Suspect],
) -> tuple[int, set[Suspect]]:
    """Rebuild the boards found wrong now and by the audit before (at once when `starting`).

    Returns how many competitions were rebuilt and the boards found wrong for the first
    time, for the next audit to confirm.
    """
    async with runtime.db.session() as session:
        predictions = await leaderboard_service.boards_to_repair(
            session, leaderboards, versions=starting
        )
        activities = await activity_service.boards_to_repair(
            session, activity_boards, versions=starting
        )
    found: set[Suspect] = {("prediction", c) for c in predictions}
    found |= {("activity", c) for c, _ in activities}
    if not starting:
        predictions = [c for c in predictions if ("prediction", c) in suspects]
        activities = [(c, days) for c, days in activities if ("activity", c) in suspects]
    # One unit of work per competition: board locks are held briefly.
    for competition_id in predictions:
        async with runtime.db.session() as session:
            await leaderboard_service.recompute_board(session, None, leaderboards, competition_id)
    for competition_id, days in activities:
        async with runtime.db.session() as session:
            await activity_service.rebuild_competition(
                session, activity_boards, competition_id, days
            )
    repaired = {("prediction", c) for c in predictions} | {("activity", c) for c, _ in activities}
    return len(repaired), found - repaired

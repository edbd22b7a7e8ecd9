"""Use cases of the leaderboard projection; they flush, never commit (STYLE 2-3, SPEC §7.2)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import redis.asyncio as redis
from podium_contracts.events import (
    RejectedData,
    ScoredData,
    SubmissionInvalidatedData,
)
from podium_contracts.redis_keys import (
    DAILY_SUBMISSIONS_TTL_SECONDS,
    daily_rejections_key,
    daily_submissions_key,
    leaderboard_meta_key,
    utc_day,
)
from podium_runtime.outbox import Outbox
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.boards import announce_rank_changes, board_missing
from podium_competitions.leaderboard import repository
from podium_competitions.leaderboard.domain import SPLITS, Entry, Split, rank_board
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.repository import display_names
from podium_competitions.teams import repository as teams_repository
from podium_competitions.teams.domain import final_candidates

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


async def recompute_board(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
) -> None:
    """Rank both boards again, store them, mirror them and announce rank changes.

    The Redis mirror is written after the transaction commits (ADR 0031): a Redis
    failure never rolls the board back. Private-board rank changes are announced
    only after `ends_at`, when that board is public knowledge (SPEC §7.2). A team has
    one line (SPEC §10.2) and the private board counts only final submissions.
    """
    await repository.lock_board(session, competition_id)
    # A team's members share one line (SPEC §10.2): submissions rank under the team's id.
    team_of = await teams_repository.entrants(session, competition_id)
    submissions = [
        replace(s, user_id=team_of.get(s.user_id, s.user_id))
        for s in await repository.scored_submissions(session, competition_id)
    ]
    ends_at, final_limit, owner_id = await repository.board_settings(session, competition_id)
    chosen = await teams_repository.selections(session, competition_id)
    eligible = final_candidates(submissions, chosen, final_limit)
    now = _now()
    boards: dict[Split, list[Entry]] = {
        "public": rank_board(submissions, "public"),
        "private": rank_board(submissions, "private", eligible=eligible),
    }
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for user_id, team_id in sorted(team_of.items()):
        members.setdefault(team_id, []).append(user_id)
    entrant_ids = {e.user_id for e in boards["public"]}
    names = await display_names(session, entrant_ids - members.keys())
    names.update(await teams_repository.team_names(session, entrant_ids & members.keys()))
    # Every member of a team hears of the team's move; the sponsor's baseline tells nobody.
    recipients: dict[uuid.UUID, list[uuid.UUID]] = dict(members)
    if owner_id is not None:
        recipients[owner_id] = []
    for split, entries in boards.items():
        before = await repository.current_ranks(session, competition_id, split)
        await repository.replace_board(session, competition_id, split, entries)
        mirror.stage(session, competition_id, split, entries, names, now, members, owner_id)
        if split == "private" and (ends_at is None or now < ends_at):
            continue
        await announce_rank_changes(
            session, outbox, competition_id, before, entries, split=split, recipients=recipients
        )


async def record_scored(
    session: AsyncSession, outbox: Outbox, mirror: LeaderboardMirror, data: ScoredData
) -> None:
    """Put a scored (or rescored) submission on the boards."""
    await repository.lock_board(session, data.competition_id)
    await repository.upsert_scored(
        session,
        {
            "submission_id": data.submission_id,
            "competition_id": data.competition_id,
            "user_id": data.user_id,
            "higher_is_better": data.higher_is_better,
            "public_score": data.public_score,
            "private_score": data.private_score,
            "submitted_at": data.submitted_at,
            "scored_at": data.scored_at,
        },
    )
    await recompute_board(session, outbox, mirror, data.competition_id)


async def record_invalidated(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    data: SubmissionInvalidatedData,
) -> None:
    """Take an invalidated submission off the boards; the participant's next best counts."""
    await repository.lock_board(session, data.competition_id)
    await repository.mark_invalidated(
        session, data.submission_id, data.competition_id, data.user_id, _now()
    )
    await recompute_board(session, outbox, mirror, data.competition_id)


async def give_back_daily_slot(
    session: AsyncSession, client: redis.Redis, data: RejectedData
) -> None:
    """Move a rejected submission from the daily slots to the day's rejections (SPEC §7.1).

    The slot was taken on the author's team (SPEC §10.2) or, solo, on the
    author; it is given back. The rejection is counted on the author, against
    the gateway's separate daily limit of rejected uploads. Repeating it is harmless.
    """
    team_id = await teams_repository.team_of(session, data.competition_id, data.user_id)
    day = utc_day(data.submitted_at)
    member = str(data.submission_id)
    rejections = daily_rejections_key(data.competition_id, data.user_id, day)
    async with client.pipeline(transaction=True) as pipe:
        for entrant in {data.user_id, team_id or data.user_id}:
            pipe.srem(daily_submissions_key(data.competition_id, entrant, day), member)
        pipe.sadd(rejections, member)
        pipe.expire(rejections, DAILY_SUBMISSIONS_TTL_SECONDS)
        await pipe.execute()


async def rebuild(session: AsyncSession, mirror: LeaderboardMirror) -> int:
    """Recompute every board from Postgres and rewrite the Redis mirror; return how many."""
    competition_ids = await repository.boards_of(session)
    for competition_id in competition_ids:
        await recompute_board(session, None, mirror, competition_id)
    return len(competition_ids)


async def boards_to_repair(
    session: AsyncSession, mirror: LeaderboardMirror, *, everything: bool = False
) -> list[uuid.UUID]:
    """Return the competitions whose Redis board is missing or disagrees with Postgres."""
    found = []
    for competition_id in await repository.boards_of(session):
        if everything:
            found.append(competition_id)
            continue
        for split in SPLITS:
            total = len(await repository.current_ranks(session, competition_id, split))
            if await board_missing(
                mirror.client, leaderboard_meta_key(competition_id, split), total
            ):
                found.append(competition_id)
                break
    return found


async def standing(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[float | None, int | None]:
    """Return a participant's best public score and public rank (None, None if unranked)."""
    row = await repository.standing(session, competition_id, user_id)
    return (row.score, row.rank) if row is not None else (None, None)

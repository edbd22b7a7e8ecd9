"""All SQL of the leaderboard projection (STYLE 2)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import and_, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as shared
from podium_competitions.leaderboard.domain import Entry, ScoredSubmission, Split
from podium_competitions.leaderboard.models import (
    leaderboard_boards,
    leaderboard_entries,
    leaderboard_submissions,
)
from podium_competitions.models import competitions


async def lock_board(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Serialise board updates of one competition until the transaction ends.

    Scores and invalidations travel on different topics, so two consumers (or
    replicas) may touch one board at once; the lock keeps recomputations and
    their Redis writes in commit order.
    """
    await shared.lock_board(session, f"leaderboard:{competition_id}")


async def upsert_scored(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a submission's scores; a rescore overwrites them, an invalidation is kept."""
    stmt = pg_insert(leaderboard_submissions).values(**values)
    excluded = stmt.excluded
    table = leaderboard_submissions
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.submission_id],
            set_={
                "public_score": excluded.public_score,
                "private_score": excluded.private_score,
                "higher_is_better": excluded.higher_is_better,
                "submitted_at": excluded.submitted_at,
                "scored_at": excluded.scored_at,
            },
            # A stale redelivery never overwrites a newer rescore.
            where=func.coalesce(table.c.scored_at, excluded.scored_at) <= excluded.scored_at,
        )
    )


async def mark_invalidated(
    session: AsyncSession,
    submission_id: uuid.UUID,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    """Take a submission off the board, even if its score has not arrived yet."""
    stmt = pg_insert(leaderboard_submissions).values(
        submission_id=submission_id,
        competition_id=competition_id,
        user_id=user_id,
        submitted_at=now,
        invalidated=True,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[leaderboard_submissions.c.submission_id], set_={"invalidated": True}
        )
    )


async def _on_board(
    session: AsyncSession, competition_id: uuid.UUID, *conditions: Any
) -> list[ScoredSubmission]:
    """Return the competition's scored, valid submissions matching `conditions`."""
    t = leaderboard_submissions
    rows = await session.execute(
        select(
            t.c.submission_id,
            t.c.user_id,
            t.c.public_score,
            t.c.private_score,
            t.c.higher_is_better,
            t.c.submitted_at,
        ).where(
            t.c.competition_id == competition_id,
            *conditions,
            t.c.invalidated.is_(False),
            t.c.public_score.is_not(None),
            t.c.private_score.is_not(None),
        )
    )
    return [ScoredSubmission(**row._asdict()) for row in rows]


async def scored_submissions(
    session: AsyncSession, competition_id: uuid.UUID
) -> list[ScoredSubmission]:
    """Return the competition's scored submissions that are still on the board."""
    return await _on_board(session, competition_id)


async def current_ranks(
    session: AsyncSession, competition_id: uuid.UUID, split: Split
) -> dict[uuid.UUID, int]:
    """Return user id -> rank of the stored board."""
    t = leaderboard_entries
    rows = await session.execute(
        select(t.c.user_id, t.c.rank).where(
            t.c.competition_id == competition_id, t.c.split == split
        )
    )
    return {row.user_id: row.rank for row in rows}


async def replace_board(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, entries: Sequence[Entry]
) -> None:
    """Store a freshly ranked board in place of the previous one."""
    t = leaderboard_entries
    await session.execute(delete(t).where(t.c.competition_id == competition_id, t.c.split == split))
    if entries:
        await session.execute(
            insert(t),
            [
                {
                    "competition_id": competition_id,
                    "split": split,
                    "user_id": e.user_id,
                    "rank": e.rank,
                    "score": e.score,
                    "submission_id": e.submission_id,
                    "submissions": e.submissions,
                    "last_submission_at": e.last_submission_at,
                    "order_score": e.order_score,
                    "best_at": e.best_at,
                }
                for e in entries
            ],
        )


async def board_settings(
    session: AsyncSession, competition_id: uuid.UUID
) -> tuple[datetime | None, int, uuid.UUID | None]:
    """Return when the competition ends, how many final submissions count (SPEC §10.2)
    and its owner, whose submissions are baselines."""
    c = competitions.c
    row = (
        await session.execute(
            select(c.ends_at, c.final_submissions_limit, c.owner_id).where(c.id == competition_id)
        )
    ).first()
    if row is None:
        return None, 2, None
    return row.ends_at, row.final_submissions_limit, row.owner_id


async def boards_of(session: AsyncSession) -> list[uuid.UUID]:
    """Return every competition that has scored submissions (for a full rebuild)."""
    rows = await session.execute(select(leaderboard_submissions.c.competition_id).distinct())
    return [row.competition_id for row in rows]


async def standing(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> AnyRow | None:
    """Return a participant's public rank and best score, if they are on the board."""
    t = leaderboard_entries
    result = await session.execute(
        select(t.c.rank, t.c.score).where(
            t.c.competition_id == competition_id, t.c.split == "public", t.c.user_id == user_id
        )
    )
    return result.first()


async def entrant_submissions(
    session: AsyncSession, competition_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> list[ScoredSubmission]:
    """Return the scored submissions still on the board of some participants (an entrant's)."""
    return await _on_board(
        session, competition_id, leaderboard_submissions.c.user_id.in_(list(user_ids))
    )


async def line_of(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, user_id: uuid.UUID
) -> AnyRow | None:
    """Return an entrant's stored line on one board (rank and place in the order)."""
    t = leaderboard_entries
    result = await session.execute(
        select(t).where(
            t.c.competition_id == competition_id, t.c.split == split, t.c.user_id == user_id
        )
    )
    return result.first()


async def rank_after(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, entry: Entry
) -> int | None:
    """Return the rank of the first other line that sorts after `entry` (None: none does).

    One descent of the order index: O(log n).
    """
    t = leaderboard_entries
    key = tuple_(t.c.order_score, t.c.best_at, t.c.submission_id)
    return await session.scalar(
        select(t.c.rank)
        .where(
            t.c.competition_id == competition_id,
            t.c.split == split,
            key > tuple_(entry.order_score, entry.best_at, entry.submission_id),
            t.c.user_id != entry.user_id,
        )
        .order_by(t.c.order_score, t.c.best_at, t.c.submission_id)
        .limit(1)
    )


async def shift_ranks(
    session: AsyncSession,
    competition_id: uuid.UUID,
    split: Split,
    first: int,
    last: int,
    by: int,
) -> list[AnyRow]:
    """Move the lines ranked `first..last` by `by` places; return them (user, new rank, score)."""
    if first > last:
        return []
    t = leaderboard_entries
    result = await session.execute(
        update(t)
        .where(
            and_(
                t.c.competition_id == competition_id,
                t.c.split == split,
                t.c.rank >= first,
                t.c.rank <= last,
            )
        )
        .values(rank=t.c.rank + by)
        .returning(t.c.user_id, t.c.rank, t.c.score)
    )
    return list(result.all())


async def put_line(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, entry: Entry
) -> None:
    """Store an entrant's line, replacing the one it had."""
    values = {
        "rank": entry.rank,
        "score": entry.score,
        "submission_id": entry.submission_id,
        "submissions": entry.submissions,
        "last_submission_at": entry.last_submission_at,
        "order_score": entry.order_score,
        "best_at": entry.best_at,
    }
    stmt = pg_insert(leaderboard_entries).values(
        competition_id=competition_id, split=split, user_id=entry.user_id, **values
    )
    t = leaderboard_entries.c
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[t.competition_id, t.split, t.user_id], set_=values
        )
    )


async def remove_line(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, user_id: uuid.UUID
) -> None:
    """Take an entrant's line off a board."""
    t = leaderboard_entries
    await session.execute(
        delete(t).where(
            t.c.competition_id == competition_id, t.c.split == split, t.c.user_id == user_id
        )
    )


async def board_state(
    session: AsyncSession, competition_id: uuid.UUID, split: Split
) -> tuple[datetime | None, int]:
    """Return a board's version (`as_of`, None before versions existed) and its line count."""
    b, t = leaderboard_boards.c, leaderboard_entries.c
    version = (
        select(b.as_of)
        .where(b.competition_id == competition_id, b.split == split)
        .scalar_subquery()
    )
    count = (
        select(func.max(t.rank))
        .where(t.competition_id == competition_id, t.split == split)
        .scalar_subquery()
    )
    row = (await session.execute(select(version, count))).one()
    return row[0], int(row[1] or 0)


async def set_board_version(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, as_of: datetime
) -> None:
    """Record a board's new version."""
    stmt = pg_insert(leaderboard_boards).values(
        competition_id=competition_id, split=split, as_of=as_of
    )
    b = leaderboard_boards.c
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[b.competition_id, b.split], set_={"as_of": as_of}
        )
    )

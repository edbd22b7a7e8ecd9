"""All SQL of the leaderboard projection (STYLE 2)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import (
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as shared
from podium_competitions.leaderboard.domain import SPLITS, Entry, ScoredSubmission, Split
from podium_competitions.leaderboard.models import (
    leaderboard_boards,
    leaderboard_entries,
    leaderboard_submissions,
)
from podium_competitions.models import competitions
from podium_competitions.teams.models import team_members


async def lock_board(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Serialise board updates of one competition until the transaction ends.

    Scores and invalidations travel on different topics, so two consumers (or
    replicas) may touch one board at once; the lock keeps recomputations and
    their Redis writes in commit order.
    """
    await shared.lock_board(session, f"leaderboard:{competition_id}")


async def upsert_scored(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record submissions' scores in one statement (one row per submission id).

    A rescore overwrites them, an invalidation is kept.
    """
    stmt = pg_insert(leaderboard_submissions).values(list(rows))
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


@dataclass(frozen=True)
class LinePlace:
    """An entrant's stored line on one board (None: off it) and where a new line would go."""

    old: AnyRow | None
    #: The rank of the first other line that sorts after the new line (None: none does).
    after: int | None


async def lines_and_places(
    session: AsyncSession,
    competition_id: uuid.UUID,
    entrant: uuid.UUID,
    lines: Mapping[Split, Entry | None],
) -> dict[Split, LinePlace]:
    """Return, per board, the entrant's stored line and the place of its new line: one query.

    The place is one descent of the order index per board: O(log n).
    """
    t = leaderboard_entries
    key = tuple_(t.c.order_score, t.c.best_at, t.c.submission_id)
    parts = []
    for split, line in lines.items():
        if line is None:
            after: Any = null()
        else:
            after = (
                select(t.c.rank)
                .where(
                    t.c.competition_id == competition_id,
                    t.c.split == split,
                    key > tuple_(line.order_score, line.best_at, line.submission_id),
                    t.c.user_id != entrant,
                )
                .order_by(t.c.order_score, t.c.best_at, t.c.submission_id)
                .limit(1)
                .scalar_subquery()
            )
        one = select(literal(1).label("one")).subquery()
        parts.append(
            select(
                literal(split).label("board"),
                after.label("after"),
                t.c.rank,
                t.c.order_score,
                t.c.best_at,
                t.c.submission_id,
            ).select_from(
                one.outerjoin(
                    t,
                    and_(
                        t.c.competition_id == competition_id,
                        t.c.split == split,
                        t.c.user_id == entrant,
                    ),
                )
            )
        )
    rows = (await session.execute(union_all(*parts))).all()
    return {row.board: LinePlace(row if row.rank is not None else None, row.after) for row in rows}


@dataclass(frozen=True)
class LineMove:
    """How one board changes for one entrant: ranks shifted, the line put or taken off."""

    split: Split
    #: Ranks `first..last` (before the move) change by `by`; empty when first > last.
    shift: tuple[int, int, int]
    #: The entrant's new line (None: taken off the board).
    line: Entry | None


async def move_lines(
    session: AsyncSession,
    competition_id: uuid.UUID,
    entrant: uuid.UUID,
    moves: Sequence[LineMove],
    as_of: datetime,
) -> list[AnyRow]:
    """Apply an entrant's moves on the boards and their new version in one statement.

    Returns the shifted lines (board, user, new rank, score). The entrant's own line is
    never inside the run it passed, so each row changes once in the statement.
    """
    t = leaderboard_entries
    ctes: list[Any] = []
    runs = [
        and_(t.c.split == m.split, t.c.rank >= m.shift[0], t.c.rank <= m.shift[1])
        for m in moves
        if m.shift[0] <= m.shift[1] and m.shift[2] != 0
    ]
    shifted: Any = None
    if runs:
        by = case(*((t.c.split == m.split, m.shift[2]) for m in moves), else_=0)
        shifted = (
            update(t)
            .where(t.c.competition_id == competition_id, or_(*runs))
            .values(rank=t.c.rank + by)
            .returning(t.c.split.label("board"), t.c.user_id, t.c.rank, t.c.score)
            .cte("shifted")
        )
    placed = [
        {
            "competition_id": competition_id,
            "split": m.split,
            "user_id": m.line.user_id,
            **_line_values(m.line),
        }
        for m in moves
        if m.line is not None
    ]
    if placed:
        stmt = pg_insert(t).values(placed)
        ctes.append(
            stmt.on_conflict_do_update(
                index_elements=[t.c.competition_id, t.c.split, t.c.user_id],
                set_={name: stmt.excluded[name] for name in _LINE_COLUMNS},
            )
            .returning(t.c.user_id)
            .cte("placed")
        )
    removed = [m.split for m in moves if m.line is None]
    if removed:
        ctes.append(
            delete(t)
            .where(
                t.c.competition_id == competition_id,
                t.c.user_id == entrant,
                t.c.split.in_(removed),
            )
            .returning(t.c.user_id)
            .cte("removed")
        )
    b = leaderboard_boards
    versions = pg_insert(b).values(
        [{"competition_id": competition_id, "split": m.split, "as_of": as_of} for m in moves]
    )
    ctes.append(
        versions.on_conflict_do_update(
            index_elements=[b.c.competition_id, b.c.split], set_={"as_of": versions.excluded.as_of}
        )
        .returning(b.c.split)
        .cte("versions")
    )
    if shifted is None:
        query = select(literal(1)).add_cte(*ctes)
        await session.execute(query)
        return []
    query = select(shifted.c.board, shifted.c.user_id, shifted.c.rank, shifted.c.score).add_cte(
        *ctes
    )
    return list((await session.execute(query)).all())


_LINE_COLUMNS = (
    "rank",
    "score",
    "submission_id",
    "submissions",
    "last_submission_at",
    "order_score",
    "best_at",
)


def _line_values(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _LINE_COLUMNS}


@dataclass(frozen=True)
class BoardContext:
    """What placing one participant's line needs to know first, read in one query."""

    #: Per board: its version (`as_of`, None before versions existed) and line count.
    states: dict[Split, tuple[datetime | None, int]]
    #: The participant's team (None: solo).
    team_id: uuid.UUID | None
    ends_at: datetime | None
    final_limit: int
    owner_id: uuid.UUID | None


async def board_context(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> BoardContext:
    """Return both boards' states, the participant's team and the board settings at once."""
    b, t, m, c = (
        leaderboard_boards.c,
        leaderboard_entries.c,
        team_members.c,
        competitions.c,
    )
    columns: list[Any] = []
    for split in SPLITS:
        columns.append(
            select(b.as_of)
            .where(b.competition_id == competition_id, b.split == split)
            .scalar_subquery()
        )
        columns.append(
            select(func.max(t.rank))
            .where(t.competition_id == competition_id, t.split == split)
            .scalar_subquery()
        )
    columns.append(
        select(m.team_id)
        .where(m.competition_id == competition_id, m.user_id == user_id)
        .scalar_subquery()
    )
    for column in (c.ends_at, c.final_submissions_limit, c.owner_id):
        columns.append(select(column).where(c.id == competition_id).scalar_subquery())
    row = (await session.execute(select(*columns))).one()
    states = {split: (row[2 * i], int(row[2 * i + 1] or 0)) for i, split in enumerate(SPLITS)}
    team_id, ends_at, final_limit, owner_id = row[4:]
    return BoardContext(
        states,
        uuid.UUID(str(team_id)) if team_id is not None else None,
        ends_at,
        2 if final_limit is None else final_limit,
        owner_id,
    )


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

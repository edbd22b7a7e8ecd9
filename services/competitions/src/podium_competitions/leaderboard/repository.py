"""All SQL of the leaderboard projection (STYLE 2)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asyncpg import Record
from podium_runtime.db import GENERIC_PLANS_SQL, AnyRow, DriverStatement
from sqlalchemy import (
    DateTime,
    bindparam,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as shared
from podium_competitions.leaderboard.domain import SPLITS, Entry, ScoredSubmission, Split
from podium_competitions.leaderboard.models import (
    leaderboard_boards,
    leaderboard_entries,
    leaderboard_submissions,
)
from podium_competitions.models import competitions, users
from podium_competitions.teams.models import final_selections, team_members, teams

#: A prediction board's lock key (`shared.lock_board`) is this prefix and the competition id;
#: `_BOARD_KEY_SQL` spells the same key in SQL over a competition id column.
_BOARD_KEY_PREFIX = "leaderboard:"
_BOARD_KEY_SQL = f"'{_BOARD_KEY_PREFIX}' || CAST({{id}} AS text)"


async def lock_board(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Serialise board updates of one competition until the transaction ends.

    Scores and invalidations travel on different topics, so two consumers (or
    replicas) may touch one board at once; the lock keeps recomputations and
    their Redis writes in commit order.
    """
    await shared.lock_board(session, f"{_BOARD_KEY_PREFIX}{competition_id}")


_SUBMISSIONS = leaderboard_submissions.fullname

# Takes the boards' locks, then upserts the scores (one row per submission): one round
# trip (ADR 0083). The locks come first, in the competitions' order (the order
# `lock_board` callers keep), as one aggregate row every inserted row joins, so no row
# is written before all of them are held. A stale redelivery never overwrites a newer
# rescore; an invalidation is kept. Every poll of scores runs it (ADR 0100).
_LOCKED_SCORES_UPSERT = DriverStatement(
    text(
        f"""
WITH locked AS (
    SELECT count(*) AS boards FROM (
        SELECT {shared.board_lock_sql(_BOARD_KEY_SQL.format(id="b.id"))}
        FROM (
            SELECT DISTINCT unnest(CAST(:competition_ids AS uuid[])) AS id ORDER BY id
        ) AS b
    ) AS l
)
INSERT INTO {_SUBMISSIONS} AS s (
    submission_id, competition_id, user_id, higher_is_better, public_score, private_score,
    submitted_at, scored_at
)
SELECT v.* FROM locked CROSS JOIN unnest(
    CAST(:submission_ids AS uuid[]), CAST(:competition_ids AS uuid[]),
    CAST(:user_ids AS uuid[]), CAST(:higher_is_better AS boolean[]),
    CAST(:public_scores AS double precision[]), CAST(:private_scores AS double precision[]),
    CAST(:submitted_at AS timestamptz[]), CAST(:scored_at AS timestamptz[])
) AS v (
    submission_id, competition_id, user_id, higher_is_better, public_score, private_score,
    submitted_at, scored_at
)
ON CONFLICT (submission_id) DO UPDATE SET
    public_score = excluded.public_score, private_score = excluded.private_score,
    higher_is_better = excluded.higher_is_better, submitted_at = excluded.submitted_at,
    scored_at = excluded.scored_at
WHERE coalesce(s.scored_at, excluded.scored_at) <= excluded.scored_at
"""  # noqa: S608
    )
)

#: The columns of `lock_and_upsert_scored`'s rows, in the order of its statement's arrays.
_SCORED_COLUMNS = (
    ("submission_ids", "submission_id"),
    ("competition_ids", "competition_id"),
    ("user_ids", "user_id"),
    ("higher_is_better", "higher_is_better"),
    ("public_scores", "public_score"),
    ("private_scores", "private_score"),
    ("submitted_at", "submitted_at"),
    ("scored_at", "scored_at"),
)


async def lock_and_upsert_scored(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Take the boards' locks of the rows' competitions, then record the submissions' scores.

    One round trip whatever the number of rows (one row per submission id). A rescore
    overwrites them, an invalidation is kept.
    """
    params = {name: [row[column] for row in rows] for name, column in _SCORED_COLUMNS}
    await _LOCKED_SCORES_UPSERT.fetch(session, params)


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
    boards = await ranks_of_boards(session, [competition_id], split)
    return boards.get((competition_id, split), {})


async def ranks_of_boards(
    session: AsyncSession, competition_ids: Sequence[uuid.UUID], split: Split | None = None
) -> dict[tuple[uuid.UUID, str], dict[uuid.UUID, int]]:
    """Return (competition, split) -> user id -> rank of the stored boards, in one query.

    With `split`, only that board of each competition.
    """
    t = leaderboard_entries
    query = select(t.c.competition_id, t.c.split, t.c.user_id, t.c.rank).where(
        t.c.competition_id.in_(competition_ids)
    )
    if split is not None:
        query = query.where(t.c.split == split)
    boards: dict[tuple[uuid.UUID, str], dict[uuid.UUID, int]] = {}
    for row in await session.execute(query):
        boards.setdefault((row.competition_id, row.split), {})[row.user_id] = row.rank
    return boards


async def hand_lines(
    session: AsyncSession, competition_id: uuid.UUID, gone: uuid.UUID, to: uuid.UUID
) -> dict[Split, tuple[int, float | None]]:
    """Give `gone`'s lines to the entrant `to` on each board where `to` has no line yet.

    A team founded or joined by a participant who alone had submissions takes over
    that participant's line where it stands: no line passes another. Returns the
    lines handed over, per board: rank and score.
    """
    t = leaderboard_entries.c
    other = leaderboard_entries.alias("other")
    rows = await session.execute(
        update(leaderboard_entries)
        .where(
            t.competition_id == competition_id,
            t.user_id == gone,
            ~select(other.c.user_id)
            .where(
                other.c.competition_id == competition_id,
                other.c.split == t.split,
                other.c.user_id == to,
            )
            .exists(),
        )
        .values(user_id=to)
        .returning(t.split, t.rank, t.score)
    )
    return {row.split: (row.rank, row.score) for row in rows}


async def replace_board(
    session: AsyncSession, competition_id: uuid.UUID, split: Split, entries: Sequence[Entry]
) -> None:
    """Store a freshly ranked board in place of the previous one.

    The lines go in as one statement of arrays (`_REPLACE_LINES`), whatever their number.
    """
    t = leaderboard_entries
    await session.execute(delete(t).where(t.c.competition_id == competition_id, t.c.split == split))
    if entries:
        params: dict[str, Any] = {
            "competition_id": competition_id,
            "split": split,
            "user_id": [e.user_id for e in entries],
            "rank": [e.rank for e in entries],
        }
        for name in _LINE_COLUMNS:
            params[name] = [getattr(e, name) for e in entries]
        await session.execute(_REPLACE_LINES, params)


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


# Each competition with submissions, found by hopping from one to the next along the
# (competition, user) index: one descent per competition instead of reading every row.
_BOARDS_OF = text(
    f"""
WITH RECURSIVE hop(competition_id) AS (
    (SELECT s.competition_id FROM {_SUBMISSIONS} AS s ORDER BY s.competition_id LIMIT 1)
    UNION ALL
    SELECT (
        SELECT s.competition_id FROM {_SUBMISSIONS} AS s
        WHERE s.competition_id > hop.competition_id ORDER BY s.competition_id LIMIT 1
    ) FROM hop WHERE hop.competition_id IS NOT NULL
)
SELECT competition_id FROM hop WHERE competition_id IS NOT NULL
"""  # noqa: S608
).columns(competition_id=UUID(as_uuid=True))


async def boards_of(session: AsyncSession) -> list[uuid.UUID]:
    """Return every competition that has scored submissions (the audit, a full rebuild).

    O(competitions x log n) through the index, whatever the number of submissions.
    """
    return list((await session.execute(_BOARDS_OF)).scalars())


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


async def lines_of(
    session: AsyncSession, competition_id: uuid.UUID, entrant: uuid.UUID
) -> dict[Split, Entry]:
    """Return an entrant's stored lines, per board it is on."""
    t = leaderboard_entries.c
    rows = await session.execute(
        select(t.split, t.user_id, t.rank, *(t[name] for name in _LINE_COLUMNS)).where(
            t.competition_id == competition_id, t.user_id == entrant
        )
    )
    return {
        row.split: Entry(
            user_id=row.user_id,
            rank=row.rank,
            **{name: getattr(row, name) for name in _LINE_COLUMNS},
        )
        for row in rows
    }


@dataclass(frozen=True)
class Shifted:
    """The lines one move shifted on one board, as parallel arrays (new ranks)."""

    user_ids: list[uuid.UUID]
    ranks: list[int]
    scores: list[float]


@dataclass(frozen=True)
class BoardMove:
    """How one board changed for one entrant (ADR 0083)."""

    #: The entrant's rank before and after (None: off the board).
    old_rank: int | None
    rank: int | None
    #: Places every line the move passed changed by (-1, 0 or 1).
    by: int
    #: The board's line count after the move.
    total: int
    #: The lines shifted (None: none, or the board is not `told`, see `place_lines`).
    shifted: Shifted | None


@dataclass(frozen=True)
class PlacedLines:
    """What `place_lines` changed: the boards it moved, the members of shifted teams."""

    boards: dict[Split, BoardMove]
    #: Team id -> member ids (sorted) of the shifted lines that are teams.
    teams: dict[uuid.UUID, list[uuid.UUID]]


#: The columns of a line that a placement writes, besides its rank.
_LINE_COLUMNS = (
    "score",
    "submission_id",
    "submissions",
    "last_submission_at",
    "order_score",
    "best_at",
)

#: Their SQL types, for the statement's typed parameters.
_LINE_TYPES = {
    "score": "double precision",
    "submission_id": "uuid",
    "submissions": "integer",
    "last_submission_at": "timestamptz",
    "order_score": "double precision",
    "best_at": "timestamptz",
}


_ENTRIES = leaderboard_entries.fullname
_BOARDS = leaderboard_boards.fullname
_MEMBERS = team_members.fullname

# A whole board's lines as arrays, one per column: one statement for any number of lines.
_REPLACE_LINES = text(
    f"""
INSERT INTO {_ENTRIES} (competition_id, split, user_id, rank, {", ".join(_LINE_COLUMNS)})
SELECT :competition_id, :split, * FROM unnest(
    CAST(:user_id AS uuid[]), CAST(:rank AS integer[]), {
        ", ".join(f"CAST(:{name} AS {_LINE_TYPES[name]}[])" for name in _LINE_COLUMNS)
    }
)
"""  # noqa: S608
).bindparams(bindparam("competition_id", type_=UUID(as_uuid=True)))


def _per_board(template: str, joiner: str = ", ") -> str:
    """Return `template` once per board, joined: `{s}` is the board's name, `{entries}` and
    `{boards}` the tables' names. Only these constants enter the SQL; values are bound."""
    return joiner.join(
        template.format(s=split, entries=_ENTRIES, boards=_BOARDS) for split in SPLITS
    )


_NEW_LINE = ", ".join(
    f"CAST(:{{s}}_{name} AS {_LINE_TYPES[name]}) AS {name}" for name in _LINE_COLUMNS
)

#: A line's place in the order, and a place after every line (the run's bound at the
#: end of the board).
_ORDER_KEY = ("order_score", "best_at", "submission_id")
_END_OF_BOARD = {
    "order_score": "CAST('Infinity' AS double precision)",
    "best_at": "CAST('infinity' AS timestamptz)",
    "submission_id": "CAST('ffffffff-ffff-ffff-ffff-ffffffffffff' AS uuid)",
}

# The run of lines a move passes is the open range of places between the old line and
# the new one, found through the order index (ADR 0089): an arrival or a climb runs from
# the new line to the old one (or the end of the board), a drop or a removal from the
# old line to the new one (or the end).
_RUN_BOUNDS = ", ".join(
    [
        f"CASE WHEN a.put AND (a.old_rank IS NULL OR a.following <= a.old_rank)"
        f" THEN a.{k} ELSE a.old_{k} END AS after_{k}"
        for k in _ORDER_KEY
    ]
    + [
        f"CASE WHEN NOT a.put OR a.old_rank IS NULL THEN {_END_OF_BOARD[k]}"
        f" WHEN a.following <= a.old_rank THEN a.old_{k} ELSE a.{k} END AS before_{k}"
        for k in _ORDER_KEY
    ]
)

# Both boards' placements in one statement of a fixed shape (ADR 0076, ADR 0083),
# prepared once per connection. Per board, from the entrant's new line (or none: `put`
# false) and the board's line count: the entrant's stored line, the rank of the first
# other line that sorts after the new one (one descent of the order index), hence the
# new rank and the run of lines passed (`plan_<board>`); then the run shifts by one
# (one range scan of the order index), the line is put or removed and the version set.
# A board the entrant is on neither before nor after is not touched. The plans and
# the lines shifted come back as one row per board, the members of shifted teams as
# one more row. The entrant's own line is never inside the run it passed, so each row
# changes once in the statement. `at_<board>` is materialized: inlined, its descent
# ran once for each of the seven places `plan_<board>` names `following`. Every
# placement runs it (ADR 0100).
_PLACE_LINES = DriverStatement(
    text(
        f"""
WITH {
            _per_board(
                "at_{s} AS MATERIALIZED ("
                " SELECT n.*, o.rank AS old_rank, o.order_score AS old_order_score,"
                " o.best_at AS old_best_at, o.submission_id AS old_submission_id,"
                " coalesce(o.rank IS NOT NULL AND (o.order_score, o.best_at, o.submission_id)"
                " = (n.order_score, n.best_at, n.submission_id), false) AS same,"
                " coalesce(("
                " SELECT e.rank FROM {entries} AS e"
                " WHERE e.competition_id = :competition_id AND e.split = '{s}'"
                " AND (e.order_score, e.best_at, e.submission_id)"
                " > (n.order_score, n.best_at, n.submission_id)"
                " AND e.user_id <> :entrant"
                " ORDER BY e.order_score, e.best_at, e.submission_id LIMIT 1"
                " ), n.total + 1) AS following"
                " FROM (SELECT CAST(:{s}_put AS boolean) AS put,"
                " CAST(:{s}_total AS integer) AS total, " + _NEW_LINE + ") AS n"
                " LEFT JOIN {entries} AS o ON o.competition_id = :competition_id"
                " AND o.split = '{s}' AND o.user_id = :entrant"
                "), plan_{s} AS ("
                " SELECT '{s}' AS split, a.*, a.put OR a.old_rank IS NOT NULL AS touch,"
                " CASE WHEN NOT a.put THEN NULL WHEN a.same THEN a.old_rank"
                "  WHEN a.old_rank IS NULL OR a.following <= a.old_rank THEN a.following"
                "  ELSE a.following - 1 END AS rank,"
                " CASE WHEN NOT a.put THEN -1 WHEN a.same THEN 0"
                "  WHEN a.old_rank IS NULL OR a.following <= a.old_rank THEN 1"
                "  ELSE -1 END AS by,"
                " a.total + CASE WHEN NOT a.put THEN -1 WHEN a.old_rank IS NULL THEN 1"
                "  ELSE 0 END AS new_total, " + _RUN_BOUNDS + " FROM at_{s} AS a"
                "), shifted_{s} AS ("
                " UPDATE {entries} AS e SET rank = e.rank + p.by FROM plan_{s} AS p"
                " WHERE e.competition_id = :competition_id AND e.split = '{s}'"
                " AND p.touch AND p.by <> 0"
                " AND (e.order_score, e.best_at, e.submission_id)"
                " > (p.after_order_score, p.after_best_at, p.after_submission_id)"
                " AND (e.order_score, e.best_at, e.submission_id)"
                " < (p.before_order_score, p.before_best_at, p.before_submission_id)"
                " RETURNING e.split, e.user_id, e.rank, e.score)"
            )
        }, plans AS ({_per_board("SELECT * FROM plan_{s}", " UNION ALL ")}),
shifted AS ({_per_board("SELECT * FROM shifted_{s}", " UNION ALL ")}), placed AS (
    INSERT INTO {_ENTRIES} AS e (
        competition_id, split, user_id, rank, {", ".join(_LINE_COLUMNS)}
    )
    SELECT :competition_id, p.split, :entrant, p.rank, {
            ", ".join(f"p.{name}" for name in _LINE_COLUMNS)
        }
    FROM plans AS p
    WHERE p.put
    ON CONFLICT (competition_id, split, user_id) DO UPDATE SET rank = excluded.rank, {
            ", ".join(f"{name} = excluded.{name}" for name in _LINE_COLUMNS)
        }
    RETURNING 1
), removed AS (
    DELETE FROM {_ENTRIES} AS e
    WHERE e.competition_id = :competition_id AND e.user_id = :entrant
        AND e.split IN (SELECT p.split FROM plans AS p WHERE p.touch AND NOT p.put)
    RETURNING 1
), versions AS (
    INSERT INTO {_BOARDS} AS b (competition_id, split, as_of)
    SELECT :competition_id, p.split, :as_of FROM plans AS p WHERE p.touch
    ON CONFLICT (competition_id, split) DO UPDATE SET as_of = excluded.as_of
    RETURNING 1
), told AS (
    SELECT * FROM shifted AS s WHERE s.split = ANY(CAST(:told AS text[]))
)
SELECT p.split AS board, p.old_rank, p.rank, p.by, p.new_total,
    s.ids, s.ranks, s.scores, NULL::uuid[] AS members
FROM plans AS p LEFT JOIN (
    SELECT s.split, array_agg(s.user_id) AS ids, array_agg(s.rank) AS ranks,
        array_agg(s.score) AS scores
    FROM told AS s GROUP BY s.split
) AS s ON s.split = p.split
WHERE p.touch
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL,
    array_agg(m.team_id ORDER BY m.team_id, m.user_id), NULL, NULL,
    array_agg(m.user_id ORDER BY m.team_id, m.user_id)
FROM {_MEMBERS} AS m
WHERE m.competition_id = :competition_id
    AND m.team_id IN (SELECT s.user_id FROM told AS s)
HAVING count(*) > 0
"""  # noqa: S608
    ).bindparams(
        bindparam("competition_id", type_=UUID(as_uuid=True)),
        bindparam("entrant", type_=UUID(as_uuid=True)),
        bindparam("as_of", type_=DateTime(timezone=True)),
    )
)


async def place_lines(
    session: AsyncSession,
    competition_id: uuid.UUID,
    entrant: uuid.UUID,
    lines: Mapping[Split, Entry | None],
    totals: Mapping[Split, int],
    as_of: datetime,
    told: Sequence[Split],
) -> PlacedLines:
    """Put an entrant's new lines (None: off the board) on both boards: one statement.

    Each new place is one descent of the order index and the lines passed shift by
    one, O(log n) plus the lines that moved; a board that changes gets `as_of` as
    its version. `totals` are the boards' line counts before. Returns the boards that
    changed (ranks, run shifted) with, on the boards `told`, the shifted lines, and
    the members of the shifted teams there.
    """
    params: dict[str, Any] = {
        "competition_id": competition_id,
        "entrant": entrant,
        "as_of": as_of,
        "told": list(told),
    }
    for split in SPLITS:
        line = lines.get(split)
        params[f"{split}_put"] = line is not None
        params[f"{split}_total"] = totals[split]
        for name in _LINE_COLUMNS:
            params[f"{split}_{name}"] = getattr(line, name) if line is not None else None
    boards: dict[Split, BoardMove] = {}
    teams: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in await _PLACE_LINES.fetch(session, params):
        if row["board"] is None:
            for team_id, member in zip(row["ids"], row["members"], strict=True):
                teams.setdefault(team_id, []).append(member)
            continue
        ids = row["ids"]
        shifted = Shifted(ids, row["ranks"], row["scores"]) if ids is not None else None
        boards[row["board"]] = BoardMove(
            row["old_rank"], row["rank"], row["by"], row["new_total"], shifted
        )
    return PlacedLines(boards, teams)


#: A board's version (`as_of`, None before versions existed) and line count.
BoardState = tuple[datetime | None, int]


@dataclass(frozen=True)
class BoardContext:
    """What placing one participant's line needs to know first, read in one query."""

    #: Per board: its version and line count.
    states: dict[Split, BoardState]
    #: The participant's team (None: solo).
    team_id: uuid.UUID | None
    ends_at: datetime | None
    final_limit: int
    owner_id: uuid.UUID | None
    #: The team's members, sorted (empty: solo).
    members: list[uuid.UUID] = field(default_factory=list)
    #: The entrant's name on the board: the team's, or the participant's display name.
    name: str | None = None
    #: The submission ids the entrant selected for the private board.
    selections: set[uuid.UUID] = field(default_factory=set)
    #: The entrant's scored submissions still on the board (the author's own user id).
    submissions: list[ScoredSubmission] = field(default_factory=list)


_COMPETITIONS = competitions.fullname
_USERS = users.fullname
_TEAMS = teams.fullname
_SELECTIONS = final_selections.fullname

#: A board's line count: the rank of its last line in the order (one descent of the order
#: index from its end), for the board `{split}` of the competition `{competition}`.
_LINE_COUNT = (
    "(SELECT l.rank FROM {entries} AS l"
    " WHERE l.competition_id = {competition} AND l.split = {split}"
    " ORDER BY l.order_score DESC, l.best_at DESC, l.submission_id DESC LIMIT 1)"
)
#: A board's version (`as_of`, the instant of its last change), for the board `{split}`
#: of the competition `{competition}`.
_VERSION = (
    "(SELECT b.as_of FROM {boards} AS b"
    " WHERE b.competition_id = {competition} AND b.split = {split})"
)

# Per (competition, participant) asked: both boards' states, the participant's team,
# its members and name, the board settings, the entrant's final selections and their
# scored submissions (as arrays): everything a placement reads before it ranks the
# entrant's line, in one query. It also sets the rest of the unit of work to generic
# plans (`GENERIC_PLANS_SQL`): the placement that follows is then planned once per
# connection instead of at every score (ADR 0103). A board's line count is the rank of
# its last line in the order (one descent of the order index from its end). `{asked}`
# is the source of the pairs `q(competition_id, user_id, n)`.
_BOARD_CONTEXTS_SQL = f"""
SELECT {
    _per_board(
        _VERSION.format(boards="{boards}", competition="q.competition_id", split="'{s}'")
        + " AS {s}_as_of, "
        + _LINE_COUNT.format(entries="{entries}", competition="q.competition_id", split="'{s}'")
        + " AS {s}_total"
    )
},
    entrant.team_id, entrant.members, c.ends_at, c.final_submissions_limit AS final_limit,
    c.owner_id,
    CASE WHEN entrant.team_id IS NULL
        THEN (SELECT u.display_name FROM {_USERS} AS u WHERE u.user_id = q.user_id)
        ELSE (SELECT t.name FROM {_TEAMS} AS t WHERE t.id = entrant.team_id)
    END AS name,
    (SELECT array_agg(f.submission_id) FROM {_SELECTIONS} AS f
     WHERE f.competition_id = q.competition_id AND f.entrant_id = entrant.id) AS selections,
    s.ids, s.users, s.public_scores, s.private_scores, s.higher_is_better, s.submitted_at,
    {GENERIC_PLANS_SQL} AS plans
FROM {{asked}}
CROSS JOIN LATERAL (
    SELECT (
        SELECT m.team_id FROM {_MEMBERS} AS m
        WHERE m.competition_id = q.competition_id AND m.user_id = q.user_id
    ) AS team_id
) AS who
CROSS JOIN LATERAL (
    SELECT who.team_id, coalesce(who.team_id, q.user_id) AS id,
        coalesce(
            (SELECT array_agg(m.user_id ORDER BY m.user_id) FROM {_MEMBERS} AS m
             WHERE m.competition_id = q.competition_id AND m.team_id = who.team_id),
            ARRAY[]::uuid[]
        ) AS members
) AS entrant
LEFT JOIN {_COMPETITIONS} AS c ON c.id = q.competition_id
CROSS JOIN LATERAL (
    SELECT array_agg(s.submission_id) AS ids, array_agg(s.user_id) AS users,
        array_agg(s.public_score) AS public_scores, array_agg(s.private_score) AS private_scores,
        array_agg(s.higher_is_better) AS higher_is_better,
        array_agg(s.submitted_at) AS submitted_at
    FROM {_SUBMISSIONS} AS s
    WHERE s.competition_id = q.competition_id
        AND s.user_id = ANY(CASE WHEN entrant.team_id IS NULL
            THEN ARRAY[q.user_id] ELSE entrant.members END)
        AND NOT s.invalidated
        AND s.public_score IS NOT NULL AND s.private_score IS NOT NULL
) AS s
ORDER BY q.n
"""  # noqa: S608
# One pair, from scalar parameters: Postgres plans it once per connection (a generic
# plan). Its array form below is planned anew for each call (the planner cannot tell
# how many pairs the arrays hold), which a poll's many pairs share (ADR 0098). Both run
# once per poll of scores (ADR 0100).
_BOARD_CONTEXT = DriverStatement(
    text(
        _BOARD_CONTEXTS_SQL.format(
            asked="(VALUES (CAST(:competition_id AS uuid), CAST(:user_id AS uuid), 1))"
            " AS q(competition_id, user_id, n)"
        )
    )
)
_BOARD_CONTEXTS = DriverStatement(
    text(
        _BOARD_CONTEXTS_SQL.format(
            asked="unnest(CAST(:competition_ids AS uuid[]), CAST(:user_ids AS uuid[]))"
            " WITH ORDINALITY AS q(competition_id, user_id, n)"
        )
    )
)


async def board_context(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> BoardContext:
    """Return what placing a participant's line reads first, in one query (ADR 0076)."""
    params = {"competition_id": competition_id, "user_id": user_id}
    (row,) = await _BOARD_CONTEXT.fetch(session, params)
    return _context(row)


async def board_contexts(
    session: AsyncSession, asked: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> list[BoardContext]:
    """Return what placing each (competition, participant)'s line reads first, in order,
    in one query (ADR 0098).

    Both boards' states, the participant's team and its members, the entrant's name,
    the board settings, the entrant's final selections and their scored submissions.
    The states are those before any of these placements: a caller placing several
    lines of one board carries the states each placement leaves to the next.
    """
    if len(asked) == 1:
        return [await board_context(session, *asked[0])]
    params = {
        "competition_ids": [competition_id for competition_id, _ in asked],
        "user_ids": [user_id for _, user_id in asked],
    }
    return [_context(row) for row in await _BOARD_CONTEXTS.fetch(session, params)]


def _context(row: Record) -> BoardContext:
    """Return the placement context of one row of `_BOARD_CONTEXTS`."""
    states = {split: (row[f"{split}_as_of"], int(row[f"{split}_total"] or 0)) for split in SPLITS}
    submissions = [
        ScoredSubmission(*values)
        for values in zip(
            row["ids"] or (),
            row["users"] or (),
            row["public_scores"] or (),
            row["private_scores"] or (),
            row["higher_is_better"] or (),
            row["submitted_at"] or (),
            strict=True,
        )
    ]
    final_limit = row["final_limit"]
    return BoardContext(
        states,
        row["team_id"],
        row["ends_at"],
        2 if final_limit is None else final_limit,
        row["owner_id"],
        list(row["members"]),
        row["name"],
        set(row["selections"] or ()),
        submissions,
    )


# Each board's version and line count for a list of competitions, both splits.
_BOARD_STATES = text(
    f"""
SELECT c.id AS competition_id, s.split, {
        _VERSION.format(boards=_BOARDS, competition="c.id", split="s.split")
    } AS as_of, {_LINE_COUNT.format(entries=_ENTRIES, competition="c.id", split="s.split")} AS total
FROM unnest(CAST(:ids AS uuid[])) AS c(id)
CROSS JOIN (VALUES ('public'), ('private')) AS s(split)
"""  # noqa: S608
)


async def board_states(
    session: AsyncSession, competition_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, Split], BoardState]:
    """Return (competition, split) -> version (`as_of`) and line count, in one query.

    Each count is one descent of the order index, whatever the board's size.
    """
    rows = await session.execute(_BOARD_STATES, {"ids": list(competition_ids)})
    return {(row.competition_id, row.split): (row.as_of, row.total or 0) for row in rows}


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

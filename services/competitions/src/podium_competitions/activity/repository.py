"""All SQL of activity competitions (STYLE 2): the points ledger, the ranked `all` board and
every board's version and line count."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from podium_contracts.redis_keys import Period
from podium_runtime.db import AnyRow
from sqlalchemy import (
    Date,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as shared
from podium_competitions.activity.domain import PERIODS, BoardEntry, Standing, period_days
from podium_competitions.activity.models import (
    activity_board,
    activity_boards,
    activity_points,
    trusted_lrs_clients,
)
from podium_competitions.models import competitions, enrollments, users

p = activity_points.c
c = competitions.c
e = enrollments.c
t = trusted_lrs_clients.c
_LEDGER = activity_points.fullname


async def lock_competition(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Serialise point awards and board updates of one competition until the transaction ends.

    A participant's statements may travel on several partitions (an `account` actor
    and an `mbox` actor are different keys), so two consumers could otherwise read
    the same cap room, or write boards to Redis out of commit order.
    """
    await shared.lock_board(session, f"activity:{competition_id}")


# The statements of the awarding path are built once and run with their parameters: a
# batch of statements runs them once per learner and competition (ADR 0095).
_USER = select(users.c.user_id, users.c.timezone, users.c.tier)
_USER_BY_ID = _USER.where(users.c.user_id == bindparam("user_id"))
_USER_BY_EMAIL = (
    _USER.where(users.c.email == bindparam("email")).order_by(users.c.updated_at.desc()).limit(1)
)


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> AnyRow | None:
    """Return a user's projection row (time zone, tier), if identity announced them."""
    return (await session.execute(_USER_BY_ID, {"user_id": user_id})).first()


async def user_by_email(session: AsyncSession, email: str) -> AnyRow | None:
    """Return the user holding this (lower-cased) e-mail, the latest updated if several."""
    return (await session.execute(_USER_BY_EMAIL, {"email": email.lower()})).first()


_CLIENT = bindparam("lrs_client_id", type_=UUID(as_uuid=True))
_COUNTING = (
    select(c.id, c.timezone, c.rules, c.starts_at, c.ends_at)
    .select_from(competitions.join(enrollments, e.competition_id == c.id))
    .where(
        c.kind == "activity",
        c.status.in_(("active", "ended")),
        c.starts_at <= bindparam("last"),
        c.ends_at > bindparam("first"),
        e.user_id == bindparam("user_id"),
        e.status == "accepted",
        or_(
            c.any_lrs_client,
            and_(
                _CLIENT.is_not(None),
                exists().where(t.competition_id == c.id, t.lrs_client_id == _CLIENT),
            ),
        ),
    )
    .order_by(c.id)
)


async def competitions_counting(
    session: AsyncSession,
    user_id: uuid.UUID,
    first: datetime,
    last: datetime,
    lrs_client_id: uuid.UUID | None,
) -> list[AnyRow]:
    """Return the activity competitions where the user is accepted whose window overlaps
    the statements' timestamps, `first` to `last` (the caller checks each statement's).

    Ended competitions still count statements timestamped inside their window
    (a learning tool may report late); canceled and draft ones never do. Only
    competitions that trust `lrs_client_id` (or, created before trust existed,
    any client) count the statement (ADR 0054).
    """
    params = {"user_id": user_id, "first": first, "last": last, "lrs_client_id": lrs_client_id}
    return list((await session.execute(_COUNTING, params)).all())


async def trusted_clients(session: AsyncSession, competition_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the LRS clients a competition trusts, in id order."""
    query = (
        select(t.lrs_client_id).where(t.competition_id == competition_id).order_by(t.lrs_client_id)
    )
    return list((await session.scalars(query)).all())


async def replace_trusted_clients(
    session: AsyncSession,
    competition_id: uuid.UUID,
    lrs_client_ids: Sequence[uuid.UUID],
    trusted_by: uuid.UUID,
) -> None:
    """Make `lrs_client_ids` the competition's whole trust list; no other client counts."""
    await session.execute(
        delete(trusted_lrs_clients).where(
            t.competition_id == competition_id, t.lrs_client_id.not_in(lrs_client_ids)
        )
    )
    await add_trusted_clients(session, competition_id, lrs_client_ids, trusted_by)
    await session.execute(
        update(competitions).where(c.id == competition_id).values(any_lrs_client=False)
    )


async def add_trusted_clients(
    session: AsyncSession,
    competition_id: uuid.UUID,
    lrs_client_ids: Sequence[uuid.UUID],
    trusted_by: uuid.UUID,
) -> None:
    """Trust these clients for the competition as well (already trusted ones are kept)."""
    if not lrs_client_ids:
        return
    rows = [
        {"competition_id": competition_id, "lrs_client_id": client, "trusted_by": trusted_by}
        for client in lrs_client_ids
    ]
    await session.execute(pg_insert(trusted_lrs_clients).values(rows).on_conflict_do_nothing())


# A participant's points on some of their local days, and which of some statements the
# ledger already holds: one round trip (rows of the first kind carry a day, of the second
# a statement id).
_LEDGER_BEFORE = text(
    f"""
SELECT a.participant_day AS day, sum(a.points) AS points, NULL::uuid AS statement_id
FROM {_LEDGER} AS a
WHERE a.competition_id = :competition_id AND a.user_id = :user_id
    AND a.participant_day = ANY(CAST(:days AS date[])) AND NOT a.voided
GROUP BY a.participant_day
UNION ALL
SELECT NULL, NULL, a.statement_id
FROM {_LEDGER} AS a
WHERE a.competition_id = :competition_id
    AND a.statement_id = ANY(CAST(:statement_ids AS uuid[]))
"""  # noqa: S608
).bindparams(
    bindparam("competition_id", type_=UUID(as_uuid=True)),
    bindparam("user_id", type_=UUID(as_uuid=True)),
)


async def ledger_before(
    session: AsyncSession,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    days: Sequence[date],
    statement_ids: Sequence[uuid.UUID],
) -> tuple[dict[date, float], set[uuid.UUID]]:
    """Return the points a participant holds on each of `days` (their local days, voided
    points excluded), and which of `statement_ids` already have a row here."""
    used: dict[date, float] = {}
    held: set[uuid.UUID] = set()
    params = {
        "competition_id": competition_id,
        "user_id": user_id,
        "days": list(days),
        "statement_ids": list(statement_ids),
    }
    for row in await session.execute(_LEDGER_BEFORE, params):
        if row.statement_id is not None:
            held.add(row.statement_id)
        else:
            used[row.day] = float(row.points or 0.0)
    return used, held


async def insert_awards(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record statements' points, one row each (one statement whatever their number).

    The caller holds the competition's lock and left out the statements `ledger_before`
    found, so each row is new.
    """
    if rows:
        await session.execute(insert(activity_points), list(rows))


async def competitions_awarding(
    session: AsyncSession, statement_id: uuid.UUID, lrs_client_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """Return the competitions where a statement holds points that are not voided yet.

    Only competitions that trust the voiding statement's client (`lrs_client_id`)
    take points back: an untrusted client can neither give nor take (ADR 0054).
    """
    trusted = exists().where(t.competition_id == c.id, t.lrs_client_id == lrs_client_id)
    rows = await session.execute(
        select(p.competition_id)
        .select_from(activity_points.join(competitions, c.id == p.competition_id))
        .where(
            p.statement_id == statement_id,
            p.voided.is_(False),
            or_(c.any_lrs_client, trusted) if lrs_client_id is not None else c.any_lrs_client,
        )
        .order_by(p.competition_id)
    )
    return [row.competition_id for row in rows]


async def void_award(
    session: AsyncSession, competition_id: uuid.UUID, statement_id: uuid.UUID
) -> AnyRow | None:
    """Take a statement's points out of every sum; None if nothing changed.

    Returns the voided award's `board_day`, `user_id`, `points` and `occurred_at`.
    """
    result = await session.execute(
        update(activity_points)
        .where(
            p.competition_id == competition_id,
            p.statement_id == statement_id,
            p.voided.is_(False),
        )
        .values(voided=True)
        .returning(p.board_day, p.user_id, p.points, p.occurred_at)
    )
    return result.first()


async def standings(
    session: AsyncSession,
    competition_id: uuid.UUID,
    days: tuple[date, date] | None,
) -> list[Standing]:
    """Sum each participant's counted points, over the whole competition or board days."""
    query = (
        select(
            p.user_id,
            func.sum(p.points).label("score"),
            func.count().label("statements"),
            func.max(p.occurred_at).label("reached_at"),
        )
        .where(p.competition_id == competition_id, p.voided.is_(False), p.points > 0)
        .group_by(p.user_id)
    )
    if days is not None:
        query = query.where(p.board_day.between(days[0], days[1]))
    rows = await session.execute(query)
    return [
        Standing(
            user_id=row.user_id,
            score=float(row.score),
            statements=int(row.statements),
            reached_at=row.reached_at,
        )
        for row in rows
    ]


async def current_ranks(session: AsyncSession, competition_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Return user id -> rank of the stored `all` board."""
    t = activity_board.c
    rows = await session.execute(
        select(t.user_id, t.rank).where(t.competition_id == competition_id)
    )
    return {row.user_id: row.rank for row in rows}


async def board_sizes(
    session: AsyncSession, competition_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Return competition -> line count of its stored `all` board, in one query."""
    t = activity_board.c
    rows = await session.execute(
        select(t.competition_id, func.count())
        .where(t.competition_id.in_(competition_ids))
        .group_by(t.competition_id)
    )
    return {competition_id: count for competition_id, count in rows}


async def replace_board(
    session: AsyncSession, competition_id: uuid.UUID, entries: Sequence[BoardEntry]
) -> None:
    """Store a freshly ranked `all` board in place of the previous one."""
    t = activity_board
    await session.execute(delete(t).where(t.c.competition_id == competition_id))
    if entries:
        await session.execute(
            insert(t),
            [
                {
                    "competition_id": competition_id,
                    "user_id": entry.user_id,
                    "rank": entry.rank,
                    "score": entry.score,
                    "statements": entry.statements,
                    "last_statement_at": entry.last_statement_at,
                }
                for entry in entries
            ],
        )


async def competition_timezone(session: AsyncSession, competition_id: uuid.UUID) -> str | None:
    """Return the competition's IANA time zone."""
    found: str | None = await session.scalar(select(c.timezone).where(c.id == competition_id))
    return found


async def boards_in_ledger(session: AsyncSession) -> list[AnyRow]:
    """Return every (competition, board day) the ledger holds points for (full rebuild)."""
    rows = await session.execute(
        select(p.competition_id, p.board_day).distinct().order_by(p.competition_id, p.board_day)
    )
    return list(rows.all())


async def standing(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> AnyRow | None:
    """Return a participant's rank and points on the `all` board, if they are on it."""
    t = activity_board.c
    result = await session.execute(
        select(t.rank, t.score).where(t.competition_id == competition_id, t.user_id == user_id)
    )
    return result.first()


# A participant's totals on the four boards holding one day (`all` counts every day):
# one pass over the participant's own ledger rows, whatever the board's size.
_PARTICIPANT_STANDINGS = text(
    "SELECT "
    + ", ".join(
        f"sum(a.points) FILTER (WHERE {counted}) AS {period}_score, "
        f"count(*) FILTER (WHERE {counted}) AS {period}_statements, "
        f"max(a.occurred_at) FILTER (WHERE {counted}) AS {period}_reached_at"
        for period in PERIODS
        for counted in [
            "true" if period == "all" else f"a.board_day BETWEEN :{period}_from AND :{period}_to"
        ]
    )
    + f"""
FROM {_LEDGER} AS a
WHERE a.competition_id = :competition_id AND a.user_id = :user_id
    AND NOT a.voided AND a.points > 0
"""
).bindparams(
    bindparam("competition_id", type_=UUID(as_uuid=True)),
    bindparam("user_id", type_=UUID(as_uuid=True)),
    *(bindparam(f"{period}_{end}", type_=Date) for period in PERIODS[1:] for end in ("from", "to")),
)


async def participant_standings(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID, board_day: date
) -> dict[Period, Standing | None]:
    """Return one participant's totals on the four boards holding `board_day`.

    One query over the participant's own ledger rows, whatever the boards' sizes;
    None where the participant has no points on a board.
    """
    params: dict[str, Any] = {"competition_id": competition_id, "user_id": user_id}
    for period in PERIODS[1:]:
        days = period_days(period, board_day)
        assert days is not None  # every period but `all` is a range of days
        params[f"{period}_from"], params[f"{period}_to"] = days
    row = (await session.execute(_PARTICIPANT_STANDINGS, params)).one()
    found: dict[Period, Standing | None] = {}
    for period in PERIODS:
        statements = int(getattr(row, f"{period}_statements"))
        found[period] = (
            Standing(
                user_id=user_id,
                score=float(getattr(row, f"{period}_score")),
                statements=statements,
                reached_at=getattr(row, f"{period}_reached_at"),
            )
            if statements
            else None
        )
    return found


@dataclass(frozen=True)
class BoardState:
    """A board's version (`as_of`, the instant of its last change) and line count."""

    as_of: datetime
    total: int


async def line_count(
    session: AsyncSession, competition_id: uuid.UUID, days: tuple[date, date]
) -> int:
    """Return how many participants hold points on the board of these days (the ledger's)."""
    count = await session.scalar(
        select(func.count(p.user_id.distinct())).where(
            p.competition_id == competition_id,
            p.board_day.between(days[0], days[1]),
            p.voided.is_(False),
            p.points > 0,
        )
    )
    return int(count or 0)


#: A board of an activity competition: its period and bucket ("all" or the first day).
BoardId = tuple[Period, str]


_BOARDS = activity_boards.fullname

# Some boards' versions and line counts: one statement for any number of boards.
_BOARD_STATES = text(
    f"""
SELECT s.period, s.bucket, s.as_of, s.total FROM {_BOARDS} AS s
JOIN unnest(CAST(:periods AS text[]), CAST(:buckets AS text[])) AS w (period, bucket)
    ON s.period = w.period AND s.bucket = w.bucket
WHERE s.competition_id = :competition_id
"""  # noqa: S608
).bindparams(bindparam("competition_id", type_=UUID(as_uuid=True)))


async def board_states(
    session: AsyncSession, competition_id: uuid.UUID, boards: Sequence[BoardId]
) -> dict[BoardId, BoardState]:
    """Return the version and line count of those of `boards` that have one stored."""
    rows = await session.execute(
        _BOARD_STATES,
        {
            "competition_id": competition_id,
            "periods": [period for period, _ in boards],
            "buckets": [bucket for _, bucket in boards],
        },
    )
    return {(row.period, row.bucket): BoardState(row.as_of, row.total) for row in rows}


async def board_states_of(
    session: AsyncSession, competition_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, Period, str], BoardState]:
    """Return the version and line count of every stored board of these competitions."""
    s = activity_boards.c
    rows = await session.execute(
        select(s.competition_id, s.period, s.bucket, s.as_of, s.total).where(
            s.competition_id.in_(competition_ids)
        )
    )
    return {
        (row.competition_id, row.period, row.bucket): BoardState(row.as_of, row.total)
        for row in rows
    }


# Boards' new versions and line counts: one statement for any number of boards.
_SET_BOARD_STATES = text(
    f"""
INSERT INTO {_BOARDS} AS s (competition_id, period, bucket, as_of, total)
SELECT :competition_id, * FROM unnest(
    CAST(:periods AS text[]), CAST(:buckets AS text[]), CAST(:as_of AS timestamptz[]),
    CAST(:totals AS integer[])
)
ON CONFLICT (competition_id, period, bucket)
DO UPDATE SET as_of = excluded.as_of, total = excluded.total
"""  # noqa: S608
).bindparams(bindparam("competition_id", type_=UUID(as_uuid=True)))


async def set_board_states(
    session: AsyncSession, competition_id: uuid.UUID, states: Mapping[BoardId, BoardState]
) -> None:
    """Record boards' new versions and line counts."""
    if not states:
        return
    await session.execute(
        _SET_BOARD_STATES,
        {
            "competition_id": competition_id,
            "periods": [period for period, _ in states],
            "buckets": [bucket for _, bucket in states],
            "as_of": [state.as_of for state in states.values()],
            "totals": [state.total for state in states.values()],
        },
    )


@dataclass(frozen=True)
class PlacedLine:
    """How placing one participant's line changed the stored `all` board."""

    #: The participant's rank before and after (None: not on the board).
    old_rank: int | None
    rank: int | None
    #: The board's line count after.
    total: int
    #: Places every line passed changed by (-1, 0 or 1), and those lines: user id, new
    #: rank and points.
    by: int
    shifted: list[tuple[uuid.UUID, int, float]]


_BOARD = activity_board.fullname
_ORDER = "l.order_score, l.last_statement_at, l.user_id"

# The participant's stored line, the board's line count (the rank of its last line in
# the order: one descent of the order index from its end) and the rank of the first
# other line that sorts after the participant's new line (one descent from the new place).
_LINE_STATE = text(
    f"""
SELECT
    (SELECT l.rank FROM {_BOARD} AS l WHERE l.competition_id = :competition_id
     ORDER BY l.order_score DESC, l.last_statement_at DESC, l.user_id DESC LIMIT 1) AS total,
    o.rank AS old_rank, o.order_score AS old_order_score, o.last_statement_at AS old_at,
    (SELECT l.rank FROM {_BOARD} AS l
     WHERE l.competition_id = :competition_id AND l.user_id <> :user_id
        AND ({_ORDER}) > (CAST(:order_score AS double precision),
            CAST(:at AS timestamptz), :user_id)
     ORDER BY {_ORDER} LIMIT 1) AS following
FROM (SELECT 1) AS one
LEFT JOIN {_BOARD} AS o ON o.competition_id = :competition_id AND o.user_id = :user_id
"""  # noqa: S608
).bindparams(
    bindparam("competition_id", type_=UUID(as_uuid=True)),
    bindparam("user_id", type_=UUID(as_uuid=True)),
)

# The lines strictly between two places in the order (the run a move passed) change
# rank by `by`: one range scan of the order index. They come back as three arrays in
# one row, which the driver decodes at once, as the leaderboard's placement returns
# them (a row each cost more than the shift).
_SHIFT = text(
    f"""
WITH shifted AS (
    UPDATE {_BOARD} AS l SET rank = l.rank + :by
    WHERE l.competition_id = :competition_id
        AND ({_ORDER}) > (CAST(:after_score AS double precision),
            CAST(:after_at AS timestamptz), CAST(:after_user AS uuid))
        AND ({_ORDER}) < (CAST(:before_score AS double precision),
            CAST(:before_at AS timestamptz), CAST(:before_user AS uuid))
    RETURNING l.user_id, l.rank, l.score
)
SELECT array_agg(user_id) AS ids, array_agg(rank) AS ranks, array_agg(score) AS scores
FROM shifted
"""  # noqa: S608
).bindparams(bindparam("competition_id", type_=UUID(as_uuid=True)))

#: A line's place in the board's order: points negated, when reached, user id.
Place = tuple[float, datetime, uuid.UUID]

#: A place after every line: the run's bound at the end of the board.
_END_OF_BOARD: Place = (
    float("inf"),
    datetime.max.replace(tzinfo=UTC),
    uuid.UUID(int=(1 << 128) - 1),
)


_LINES = activity_board.c
_DROP_LINE = delete(activity_board).where(
    _LINES.competition_id == bindparam("competition_id"), _LINES.user_id == bindparam("user_id")
)
_PUT_COLUMNS = ("rank", "score", "statements", "last_statement_at")
_PUT = pg_insert(activity_board)
_PUT_LINE = _PUT.values(
    {name: bindparam(name) for name in ("competition_id", "user_id", *_PUT_COLUMNS)}
).on_conflict_do_update(
    index_elements=[_LINES.competition_id, _LINES.user_id],
    set_={name: _PUT.excluded[name] for name in _PUT_COLUMNS},
)


async def place_line(
    session: AsyncSession,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    line: Standing | None,
    score: float,
) -> PlacedLine:
    """Put a participant's new totals (None: off the board) on the stored `all` board.

    `score` is the line's points as ranked (rounded). The new place is one descent of
    the order index and the lines passed shift by one: O(log n) plus the lines that
    moved, whatever the board's size (ADR 0094). The caller holds the competition's lock.
    """
    state = (
        await session.execute(
            _LINE_STATE,
            {
                "competition_id": competition_id,
                "user_id": user_id,
                "order_score": -score if line is not None else None,
                "at": line.reached_at if line is not None else None,
            },
        )
    ).one()
    total, old_rank = int(state.total or 0), state.old_rank
    old: Place = (state.old_order_score, state.old_at, user_id)
    if line is None:
        if old_rank is None:
            return PlacedLine(None, None, total, 0, [])
        await session.execute(_DROP_LINE, {"competition_id": competition_id, "user_id": user_id})
        shifted = await _shift(session, competition_id, old, _END_OF_BOARD, -1)
        return PlacedLine(old_rank, None, total - 1, -1, shifted)
    new: Place = (-score, line.reached_at, user_id)
    following = state.following if state.following is not None else total + 1
    run: tuple[Place, Place] | None
    if old_rank is not None and new == old:
        rank, by, run = old_rank, 0, None
    elif old_rank is None:
        rank, by, run = following, 1, (new, _END_OF_BOARD)
        total += 1
    elif following <= old_rank:
        rank, by, run = following, 1, (new, old)
    else:
        rank, by, run = following - 1, -1, (old, new)
    shifted = await _shift(session, competition_id, *run, by) if run is not None else []
    await session.execute(
        _PUT_LINE,
        {
            "competition_id": competition_id,
            "user_id": user_id,
            "rank": rank,
            "score": score,
            "statements": line.statements,
            "last_statement_at": line.reached_at,
        },
    )
    return PlacedLine(old_rank, rank, total, by, shifted)


async def _shift(
    session: AsyncSession,
    competition_id: uuid.UUID,
    after: Place,
    before: Place,
    by: int,
) -> list[tuple[uuid.UUID, int, float]]:
    """Shift the lines strictly between two places in the order by `by`; return them."""
    shifted = await session.execute(
        _SHIFT,
        {
            "competition_id": competition_id,
            "by": by,
            "after_score": after[0],
            "after_at": after[1],
            "after_user": after[2],
            "before_score": before[0],
            "before_at": before[1],
            "before_user": before[2],
        },
    )
    ids, ranks, scores = shifted.one()
    return list(zip(ids, ranks, scores, strict=True)) if ids is not None else []

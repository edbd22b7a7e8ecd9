"""All SQL of the competitions service (STYLE 2): competitions, enrollments, users projection."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from asyncpg import Record
from podium_runtime.db import AnyRow, DriverStatement
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Date

from podium_competitions import read_model
from podium_competitions.models import competitions, enrollments, users
from podium_competitions.teams.models import teams

c = competitions.c
e = enrollments.c


async def insert_competition(session: AsyncSession, values: dict[str, Any]) -> AnyRow:
    """Insert a competition and return the stored row."""
    result = await session.execute(insert(competitions).values(**values).returning(competitions))
    found: AnyRow = result.one()
    read_model.competition_created(session, found.id)
    return found


async def get_competition(
    session: AsyncSession, competition_id: uuid.UUID, *, for_update: bool = False
) -> AnyRow | None:
    """Return one competition row, optionally locked for the rest of the transaction."""
    query = select(competitions).where(c.id == competition_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def competitions_for_cards(
    session: AsyncSession, competition_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AnyRow]:
    """Return the existing competitions among `competition_ids` by id, each row with
    `has_teams` (at least one team), in one query: what their read-model cards hold."""
    wanted = sorted(set(competition_ids))
    if not wanted:
        return {}
    has_teams = exists().where(teams.c.competition_id == c.id).label("has_teams")
    query = select(competitions, has_teams).where(
        c.id == any_(bindparam("ids", wanted, type_=ARRAY(UUID(as_uuid=True))))
    )
    return {row.id: row for row in (await session.execute(query)).all()}


async def competition_id_by_invite_code(session: AsyncSession, code: str) -> uuid.UUID | None:
    """Return the id of the competition holding this invite code."""
    value = await session.scalar(select(c.id).where(c.invite_code == code))
    return value if value is None else uuid.UUID(str(value))


def visible_to(viewer_id: uuid.UUID | None, is_admin: bool) -> ColumnElement[bool]:
    """SQL condition: public non-draft competitions, plus the viewer's own and joined ones."""
    if is_admin:
        return true()
    public = and_(c.visibility == "public", c.status != "draft")
    if viewer_id is None:
        return public
    member = exists().where(
        e.competition_id == c.id, e.user_id == viewer_id, e.status == "accepted"
    )
    return or_(public, c.owner_id == viewer_id, member)


async def get_visible_competition(
    session: AsyncSession, competition_id: uuid.UUID, viewer_id: uuid.UUID | None, is_admin: bool
) -> AnyRow | None:
    """Return the competition when the viewer may see it, else None."""
    query = select(competitions).where(c.id == competition_id, visible_to(viewer_id, is_admin))
    return (await session.execute(query)).first()


async def list_competitions(
    session: AsyncSession,
    *,
    viewer_id: uuid.UUID | None,
    is_admin: bool,
    status: str | None,
    kind: str | None,
    q: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    mine: str | None = None,
) -> list[AnyRow]:
    """Return up to `limit` visible competitions, newest first, after a keyset cursor.

    `mine="owned"` keeps the viewer's own competitions, `mine="joined"` those they
    are an accepted participant of (SPEC §10.2).
    """
    query = select(competitions).where(visible_to(viewer_id, is_admin))
    if mine == "owned":
        query = query.where(c.owner_id == viewer_id)
    elif mine == "joined":
        joined = select(e.competition_id).where(e.user_id == viewer_id, e.status == "accepted")
        query = query.where(c.id.in_(joined))
    if status:
        query = query.where(c.status == status)
    if kind:
        query = query.where(c.kind == kind)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(c.title.ilike(pattern), c.description.ilike(pattern)))
    if after is not None:
        query = query.where(tuple_(c.created_at, c.id) < tuple_(after[0], after[1]))
    query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    return list((await session.execute(query)).all())


async def update_competition(
    session: AsyncSession, competition_id: uuid.UUID, values: dict[str, Any]
) -> AnyRow:
    """Apply `values` to a competition and return the new row."""
    result = await session.execute(
        update(competitions)
        .where(c.id == competition_id)
        .values(**values, updated_at=func.now())
        .returning(competitions)
    )
    found: AnyRow = result.one()
    read_model.competition_changed(session, [competition_id])
    return found


async def end_due_competitions(session: AsyncSession, now: datetime) -> list[AnyRow]:
    """Move every active competition whose `ends_at` passed to `ended`; return them.

    Each row is updated by exactly one transaction: a concurrent replica's UPDATE waits
    on the row lock, re-checks `status = 'active'` and skips it.
    """
    result = await session.execute(
        update(competitions)
        .where(c.status == "active", c.ends_at <= now)
        .values(status="ended", updated_at=func.now())
        .returning(competitions)
    )
    rows = list(result.all())
    read_model.competition_changed(session, [row.id for row in rows])
    return rows


async def lock_competitions(
    session: AsyncSession, competition_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Record]:
    """Return what deciding joins reads of the existing competitions among `competition_ids`,
    locked, by id (asyncpg `Record`s with the columns of `_JOIN_COLUMNS`).

    Rows are locked in id order so that concurrent callers cannot deadlock.
    """
    ids = sorted(set(competition_ids))
    if not ids:
        return {}
    rows = await _LOCK_COMPETITIONS.fetch(session, {"ids": ids})
    return {row["id"]: row for row in rows}


async def take_seats(session: AsyncSession, seats: dict[uuid.UUID, int]) -> None:
    """Count `seats[id]` more participants in each competition, in one statement.

    The `capacity` CHECK refuses the whole statement should any competition go
    over its `max_participants`. The counts travel as arrays, so every batch
    shares one prepared statement.
    """
    seats = {cid: n for cid, n in seats.items() if n}
    if not seats:
        return
    ordered = sorted(seats)
    taken = await _TAKE_SEATS.fetch(session, {"ids": ordered, "seats": [seats[i] for i in ordered]})
    if len(taken) != len(seats):
        raise LookupError("a competition taking seats no longer exists")


async def release_seat(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Count one participant less."""
    await session.execute(
        update(competitions)
        .where(c.id == competition_id, c.participants_count > 0)
        .values(participants_count=c.participants_count - 1)
    )


async def participant_ids(session: AsyncSession, competition_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the users with an accepted enrollment in a competition."""
    query = select(e.user_id).where(e.competition_id == competition_id, e.status == "accepted")
    return list((await session.execute(query)).scalars())


async def get_enrollment(
    session: AsyncSession,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> AnyRow | None:
    """Return a user's enrollment row in a competition."""
    query = select(enrollments).where(e.competition_id == competition_id, e.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def save_enrollment(
    session: AsyncSession,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    status: str,
    reason: str | None,
    request_id: uuid.UUID | None,
    enrolled_at: datetime | None,
) -> None:
    """Insert or overwrite a user's enrollment row."""
    values = {
        "status": status,
        "reason": reason,
        "request_id": request_id,
        "enrolled_at": enrolled_at,
        "updated_at": func.now(),
    }
    await session.execute(
        pg_insert(enrollments)
        .values(competition_id=competition_id, user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[e.competition_id, e.user_id], set_=values)
    )
    read_model.members_changed(session, [(competition_id, user_id, status)])


async def lock_enrollments(
    session: AsyncSession, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], Record]:
    """Return the existing enrollments among (competition id, user id) `keys`, locked
    (asyncpg `Record`s with the columns of `_ENROLLMENT_COLUMNS`).

    The keys travel as two arrays: one prepared statement whatever their number.
    """
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    rows = await _LOCK_ENROLLMENTS.fetch(
        session, {"cids": [p[0] for p in pairs], "uids": [p[1] for p in pairs]}
    )
    return {(row["competition_id"], row["user_id"]): row for row in rows}


async def save_enrollments(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite many enrollment rows (at most one per key) in one statement.

    Each row carries the columns of `_ENROLLMENT_COLUMNS`. The columns travel as
    arrays (`unnest`), so every batch shares one prepared statement whatever its size.
    """
    if not rows:
        return
    await _SAVE_ENROLLMENTS.fetch(
        session, {name: [row[name] for row in rows] for name in _ENROLLMENT_COLUMNS}
    )
    read_model.members_changed(
        session, [(row["competition_id"], row["user_id"], row["status"]) for row in rows]
    )


#: What deciding a join reads of a competition (`enrollments.join_refusal`).
_JOIN_COLUMNS = (
    "id",
    "owner_id",
    "status",
    "visibility",
    "invite_code",
    "starts_at",
    "late_join",
    "max_participants",
    "participants_count",
    "join_approval",
)
#: An enrollment's columns as deciding joins reads and writes them, with their SQL types.
_ENROLLMENT_COLUMNS = {
    "competition_id": "uuid",
    "user_id": "uuid",
    "status": "text",
    "reason": "text",
    "request_id": "uuid",
    "enrolled_at": "timestamptz",
}
_COMPETITIONS = competitions.fullname
_ENROLLMENTS = enrollments.fullname

# Deciding a poll of joins runs these four once per poll (ADR 0100): the competitions
# and the enrollments concerned, locked in key order; the enrollments written; the seats
# counted. Keys and columns travel as arrays, so any batch size shares one statement.
_LOCK_COMPETITIONS = DriverStatement(
    text(
        f"SELECT {', '.join(_JOIN_COLUMNS)} FROM {_COMPETITIONS} "  # noqa: S608
        "WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE"
    )
)
_LOCK_ENROLLMENTS = DriverStatement(
    text(
        f"""
SELECT {", ".join(f"e.{name}" for name in _ENROLLMENT_COLUMNS)}
FROM {_ENROLLMENTS} AS e
JOIN unnest(CAST(:cids AS uuid[]), CAST(:uids AS uuid[])) AS k(cid, uid)
    ON e.competition_id = k.cid AND e.user_id = k.uid
ORDER BY e.competition_id, e.user_id
FOR UPDATE OF e
"""  # noqa: S608
    )
)
_SAVE_ENROLLMENTS = DriverStatement(
    text(
        f"""
INSERT INTO {_ENROLLMENTS} ({", ".join(_ENROLLMENT_COLUMNS)})
SELECT * FROM unnest({", ".join(f"CAST(:{n} AS {t}[])" for n, t in _ENROLLMENT_COLUMNS.items())})
ON CONFLICT (competition_id, user_id) DO UPDATE SET
    status = excluded.status,
    reason = excluded.reason,
    request_id = excluded.request_id,
    enrolled_at = excluded.enrolled_at,
    updated_at = now()
"""  # noqa: S608
    )
)
_TAKE_SEATS = DriverStatement(
    text(
        f"""
UPDATE {_COMPETITIONS} AS c SET participants_count = c.participants_count + t.seats
FROM unnest(CAST(:ids AS uuid[]), CAST(:seats AS integer[])) AS t(id, seats)
WHERE c.id = t.id
RETURNING c.id
"""  # noqa: S608
    )
)


async def roster(
    session: AsyncSession,
    competition_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[AnyRow]:
    """Return accepted participants with their display names, earliest first.

    `after` is (instant, n): the page continues after the first n participants who
    enrolled at that instant, in user id order. Joins decided in one batch share an
    instant, so the count keeps those pages exact without a user id in the cursor.
    """
    query = (
        select(e.user_id, e.enrolled_at, func.coalesce(users.c.display_name, "").label("name"))
        .select_from(enrollments.outerjoin(users, users.c.user_id == e.user_id))
        .where(e.competition_id == competition_id, e.status == "accepted")
        .order_by(e.enrolled_at, e.user_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(e.enrolled_at >= after[0]).offset(after[1])
    return list((await session.execute(query)).all())


async def count_by_status(session: AsyncSession, competition_id: uuid.UUID) -> dict[str, int]:
    """Return how many enrollment rows a competition has per status."""
    rows = await session.execute(
        select(e.status, func.count()).where(e.competition_id == competition_id).group_by(e.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def rejections_by_reason(session: AsyncSession, competition_id: uuid.UUID) -> dict[str, int]:
    """Return how many users are currently rejected, per reason."""
    rows = await session.execute(
        select(e.reason, func.count())
        .where(e.competition_id == competition_id, e.status == "rejected")
        .group_by(e.reason)
    )
    return {str(reason): int(count) for reason, count in rows.all()}


async def joins_per_day(session: AsyncSession, competition_id: uuid.UUID) -> list[AnyRow]:
    """Return accepted participants per UTC day of enrollment."""
    day = cast(func.timezone("UTC", e.enrolled_at), Date).label("day")
    rows = await session.execute(
        select(day, func.count().label("joins"))
        .where(e.competition_id == competition_id, e.status == "accepted")
        .group_by(day)
        .order_by(day)
    )
    return list(rows.all())


async def is_participant(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Tell whether the user is an accepted participant."""
    found = await session.scalar(
        select(e.user_id).where(
            e.competition_id == competition_id, e.user_id == user_id, e.status == "accepted"
        )
    )
    return found is not None


async def upsert_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    display_name: str,
    timezone: str,
    email: str | None = None,
) -> None:
    """Keep the latest display name, time zone and e-mail of a user (SPEC §2: copies, not reads)."""
    values = {
        "display_name": display_name,
        "timezone": timezone,
        "email": email.lower() if email else None,
        "updated_at": func.now(),
    }
    await session.execute(
        pg_insert(users)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[users.c.user_id], set_=values)
    )


#: Seed of `hashtextextended(key, seed)`, the key of a board's lock.
BOARD_LOCK_SEED = 7207


def board_lock_sql(key: str) -> str:
    """Return the SQL call taking one board's lock, `key` an SQL expression of its key.

    Statements that take the lock along with other work (ADR 0083) use it too, so
    every path hashes the key the same way.
    """
    return f"pg_advisory_xact_lock(hashtextextended({key}, {BOARD_LOCK_SEED}))"


_LOCK_BOARD = text(f"SELECT {board_lock_sql(':key')}")


async def lock_board(session: AsyncSession, key: str) -> None:
    """Hold a transaction-scoped advisory lock on one board (`<kind>:<competition id>`).

    Board updates of a competition take it so that recomputations and their
    Redis writes happen in commit order; it is released when the transaction ends.
    """
    await session.execute(_LOCK_BOARD, {"key": key})


# One array parameter, however many ids (a board may have 100,000 lines); built once.
_DISPLAY_NAMES = select(users.c.user_id, users.c.display_name).where(
    users.c.user_id == any_(bindparam("user_ids", type_=ARRAY(UUID(as_uuid=True))))
)


async def display_names(
    session: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Return the known display names of `user_ids` (copied from identity's events)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await session.execute(_DISPLAY_NAMES, {"user_ids": ids})
    return {row.user_id: row.display_name for row in rows}

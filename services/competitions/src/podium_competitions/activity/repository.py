"""All SQL of activity competitions (STYLE 2): the points ledger and the ranked `all` board."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as shared
from podium_competitions.activity.domain import BoardEntry, Standing
from podium_competitions.activity.models import activity_board, activity_points, trusted_lrs_clients
from podium_competitions.models import competitions, enrollments, users

p = activity_points.c
c = competitions.c
e = enrollments.c
t = trusted_lrs_clients.c


async def lock_competition(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Serialise point awards and board updates of one competition until the transaction ends.

    A participant's statements may travel on several partitions (an `account` actor
    and an `mbox` actor are different keys), so two consumers could otherwise read
    the same cap room, or write boards to Redis out of commit order.
    """
    await shared.lock_board(session, f"activity:{competition_id}")


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> AnyRow | None:
    """Return a user's projection row (time zone, tier), if identity announced them."""
    query = select(users.c.user_id, users.c.timezone, users.c.tier).where(
        users.c.user_id == user_id
    )
    return (await session.execute(query)).first()


async def user_by_email(session: AsyncSession, email: str) -> AnyRow | None:
    """Return the user holding this (lower-cased) e-mail, the latest updated if several."""
    query = (
        select(users.c.user_id, users.c.timezone, users.c.tier)
        .where(users.c.email == email.lower())
        .order_by(users.c.updated_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).first()


async def competitions_counting(
    session: AsyncSession, user_id: uuid.UUID, at: datetime, lrs_client_id: uuid.UUID | None
) -> list[AnyRow]:
    """Return the activity competitions where the user is accepted and `at` is in the window.

    Ended competitions still count statements timestamped inside their window
    (a learning tool may report late); canceled and draft ones never do. Only
    competitions that trust `lrs_client_id` (or, created before trust existed,
    any client) count the statement (ADR 0054).
    """
    trusted = exists().where(t.competition_id == c.id, t.lrs_client_id == lrs_client_id)
    query = (
        select(c.id, c.timezone, c.rules)
        .select_from(competitions.join(enrollments, e.competition_id == c.id))
        .where(
            c.kind == "activity",
            c.status.in_(("active", "ended")),
            c.starts_at <= at,
            c.ends_at > at,
            e.user_id == user_id,
            e.status == "accepted",
            or_(c.any_lrs_client, trusted) if lrs_client_id is not None else c.any_lrs_client,
        )
        .order_by(c.id)
    )
    return list((await session.execute(query)).all())


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


async def points_on_day(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID, day: date
) -> float:
    """Return the points a participant holds on one of their local days (voided ones excluded)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(p.points), 0.0)).where(
            p.competition_id == competition_id,
            p.user_id == user_id,
            p.participant_day == day,
            p.voided.is_(False),
        )
    )
    return float(total or 0.0)


async def insert_award(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record a statement's points; False when this statement already has a row here."""
    result = await session.execute(
        pg_insert(activity_points)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[p.competition_id, p.statement_id])
        .returning(p.statement_id)
    )
    return result.first() is not None


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

"""All SQL of the ingest service (STYLE 2)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, and_, cast, func, or_, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.models import SCHEMA, statements
from podium_ingest.models import statement_facts as facts

# Bulk writes pass one array per column through unnest(): one statement text whatever the
# batch size, so Postgres and asyncpg reuse the prepared statement (no per-batch compile).
# The f-strings interpolate only the schema and column constants below, never input.
_INSERT_STATEMENTS = text(
    f"""
    INSERT INTO {SCHEMA}.statements (id, statement, lrs_client_id, stored)
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:docs AS jsonb[]),
        CAST(:clients AS uuid[]), CAST(:stored AS timestamptz[]))
    ON CONFLICT (id) DO NOTHING
    RETURNING id
    """  # noqa: S608
)

FACT_TYPES = {
    "statement_id": "uuid",
    "actor_key": "text",
    "object_agent_key": "text",
    "user_id": "uuid",
    "verb_id": "text",
    "object_type": "text",
    "activity_id": "text",
    "target_id": "uuid",
    "registration": "uuid",
    "timestamp": "timestamptz",
    "stored": "timestamptz",
    "scaled_score": "double precision",
    "success": "boolean",
    "completion": "boolean",
    "duration_seconds": "double precision",
    "is_voiding": "boolean",
    "voided": "boolean",
}
_INSERT_FACTS = text(
    f"""
    INSERT INTO {SCHEMA}.statement_facts ({", ".join(f'"{c}"' for c in FACT_TYPES)})
    SELECT * FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in FACT_TYPES.items())})
    ON CONFLICT DO NOTHING
    """  # noqa: S608
)


async def insert_statements(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert raw statements (`statement` as JSON text), skipping stored ids; return new ids."""
    if not rows:
        return set()
    result = await session.execute(
        _INSERT_STATEMENTS,
        {
            "ids": [r["id"] for r in rows],
            "docs": [r["statement"] for r in rows],
            "clients": [r["lrs_client_id"] for r in rows],
            "stored": [r["stored"] for r in rows],
        },
    )
    return {row[0] for row in result}


async def insert_facts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert flattened rows (their statements were inserted in this transaction)."""
    if rows:
        await session.execute(_INSERT_FACTS, {c: [r[c] for r in rows] for c in FACT_TYPES})


async def voided_by_earlier_statements(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Return which of `ids` are targeted by a voiding statement already stored (out of order)."""
    if not ids:
        return set()
    result = await session.execute(
        select(facts.c.target_id).where(facts.c.is_voiding, facts.c.target_id.in_(list(ids)))
    )
    return {row[0] for row in result}


FACT_COLUMNS = (
    facts.c.statement_id,
    facts.c.actor_key,
    facts.c.user_id,
    facts.c.verb_id,
    facts.c.activity_id,
    facts.c.timestamp,
    facts.c.scaled_score,
    facts.c.success,
    facts.c.completion,
)


async def mark_voided(session: AsyncSession, targets: Sequence[uuid.UUID]) -> Sequence[Any]:
    """Mark the target statements voided (never voiding statements, xAPI 2.3.2); return them."""
    if not targets:
        return []
    result = await session.execute(
        update(facts)
        .where(
            facts.c.statement_id.in_(list(targets)),
            facts.c.is_voiding.is_(False),
            facts.c.voided.is_(False),
        )
        .values(voided=True)
        .returning(*FACT_COLUMNS)
    )
    return result.all()


async def get_statement(session: AsyncSession, statement_id: uuid.UUID) -> tuple[Any, bool] | None:
    """Return `(statement, voided)` for one id, or None when unknown."""
    row = (
        await session.execute(
            select(statements.c.statement, facts.c.voided)
            .join(facts, facts.c.statement_id == statements.c.id)
            .where(statements.c.id == statement_id)
        )
    ).first()
    return (row[0], bool(row[1])) if row else None


async def get_statements(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Return stored statements by id, voided or not (used for conflict checks)."""
    if not ids:
        return {}
    result = await session.execute(
        select(statements.c.id, statements.c.statement).where(statements.c.id.in_(list(ids)))
    )
    return {row[0]: row[1] for row in result}


@dataclass(frozen=True)
class StatementFilter:
    """The filters of GET /xapi/statements (xAPI Communication 2.1.3)."""

    agent_key: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    lrs_client_id: uuid.UUID | None = None


async def query_statements(
    session: AsyncSession,
    where: StatementFilter,
    *,
    limit: int,
    ascending: bool,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Any]:
    """Return up to `limit` non-voided statements matching `where`, keyset-paged by (stored, id)."""
    conditions = [facts.c.voided.is_(False)]
    if where.agent_key is not None:
        conditions.append(
            or_(facts.c.actor_key == where.agent_key, facts.c.object_agent_key == where.agent_key)
        )
    if where.verb is not None:
        conditions.append(facts.c.verb_id == where.verb)
    if where.activity is not None:
        conditions.append(facts.c.activity_id == where.activity)
    if where.registration is not None:
        conditions.append(facts.c.registration == where.registration)
    if where.lrs_client_id is not None:
        conditions.append(statements.c.lrs_client_id == where.lrs_client_id)
    if where.since is not None:
        conditions.append(facts.c.stored > where.since)
    if where.until is not None:
        conditions.append(facts.c.stored <= where.until)
    key = (facts.c.stored, facts.c.statement_id)
    if after is not None:
        stored, last_id = after
        if ascending:
            conditions.append(
                or_(facts.c.stored > stored, and_(facts.c.stored == stored, key[1] > last_id))
            )
        else:
            conditions.append(
                or_(facts.c.stored < stored, and_(facts.c.stored == stored, key[1] < last_id))
            )
    order = [c.asc() if ascending else c.desc() for c in key]
    return (
        await session.execute(
            select(statements.c.statement, facts.c.stored, facts.c.statement_id)
            .join(statements, statements.c.id == facts.c.statement_id)
            .where(and_(true(), *conditions))
            .order_by(*order)
            .limit(limit)
        )
    ).all()


async def latest_stored(session: AsyncSession) -> datetime | None:
    """Return the newest `stored` instant in the store."""
    value: datetime | None = await session.scalar(select(func.max(facts.c.stored)))
    return value


async def activity_per_day(
    session: AsyncSession, user_id: uuid.UUID, timezone: str, since: datetime | None
) -> Sequence[Any]:
    """Count a learner's non-voided statements per local day (SPEC §5.5)."""
    day = cast(func.timezone(timezone, facts.c.timestamp), Date).label("day")
    conditions = [facts.c.user_id == user_id, facts.c.voided.is_(False)]
    if since is not None:
        conditions.append(facts.c.timestamp >= since)
    return (
        await session.execute(
            select(
                day,
                func.count().label("statements"),
                func.count().filter(facts.c.completion.is_(True)).label("completed"),
                func.count().filter(facts.c.success.is_(True)).label("succeeded"),
                func.count(func.distinct(facts.c.activity_id)).label("activities"),
            )
            .where(*conditions)
            .group_by(day)
            .order_by(day)
        )
    ).all()

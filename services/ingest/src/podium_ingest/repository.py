"""All SQL of the ingest service (STYLE 2)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from podium_runtime.db import DriverStatement
from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, JSONPATH, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.models import SCHEMA, competitions, participants, statements, users
from podium_ingest.models import statement_facts as facts

# Bulk writes pass one array per column through unnest(): one statement text whatever the
# batch size, so Postgres and asyncpg reuse the prepared statement (no per-batch compile).
# The f-strings interpolate only the schema and column constants below, never input.
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
#: The flattened columns a new statement brings (`voided` is worked out in the database).
_NEW_FACT_TYPES = {c: t for c, t in FACT_TYPES.items() if c != "voided"}
#: The raw columns besides `id` (`statement_id`) and `stored`, which the fact carries too.
_RAW_TYPES = {"statement": "jsonb", "lrs_client_id": "uuid"}
_FACT_LIST = ", ".join(f'"{c}"' for c in FACT_TYPES)

# One round trip stores a poll's statements (ADR 0086): the raw rows, then the facts of
# those that were new, each voided when a voiding statement stored earlier targets it
# (xAPI 2.3.2: a voiding statement may arrive first). The sub-query sees the table as
# it was before this statement, so facts of this poll are voided by `mark_voided`, after.
# Every poll runs it (ADR 0100).
_RECORD_STATEMENTS = DriverStatement(
    text(
        f"""
    WITH input AS (
        SELECT * FROM unnest({
            ", ".join(f"CAST(:{c} AS {t}[])" for c, t in (_NEW_FACT_TYPES | _RAW_TYPES).items())
        }) AS input({", ".join(f'"{c}"' for c in _NEW_FACT_TYPES | _RAW_TYPES)})
    ),
    inserted AS (
        INSERT INTO {SCHEMA}.statements (id, statement, lrs_client_id, stored)
        SELECT statement_id, statement, lrs_client_id, stored FROM input
        ON CONFLICT (id) DO NOTHING
        RETURNING id
    ),
    new AS (
        SELECT input.*, NOT input.is_voiding AND EXISTS (
            SELECT FROM {SCHEMA}.statement_facts earlier
            WHERE earlier.is_voiding AND earlier.target_id = input.statement_id
        ) AS voided
        FROM input JOIN inserted ON inserted.id = input.statement_id
    ),
    facts AS (
        INSERT INTO {SCHEMA}.statement_facts ({_FACT_LIST})
        SELECT {_FACT_LIST} FROM new
        ON CONFLICT DO NOTHING
    )
    SELECT statement_id, voided FROM new
    """  # noqa: S608
    )
)


# `= ANY(:array)` keeps one statement text for any number of ids; an IN list makes every
# length a new prepared statement that Postgres parses and plans again.
def _any_uuid(ids: Sequence[uuid.UUID]) -> Any:
    """Return `= ANY(...)` operand of a uuid array parameter."""
    return any_(bindparam("ids", list(ids), type_=ARRAY(UUID(as_uuid=True))))


async def record_statements(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> dict[uuid.UUID, bool]:
    """Store raw statements and the facts of the new ones in one statement (ADR 0086).

    Each row is a flattened fact without `voided`, plus `statement` (JSON text) and
    `lrs_client_id`. Ids already stored are skipped. Returns, for every new statement,
    whether a voiding statement stored earlier had targeted it (its fact is voided).
    """
    if not rows:
        return {}
    columns = _NEW_FACT_TYPES | _RAW_TYPES
    found = await _RECORD_STATEMENTS.fetch(session, {c: [r[c] for r in rows] for c in columns})
    return {row[0]: row[1] for row in found}


async def voided_by_earlier_statements(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Return which of `ids` are targeted by a voiding statement already stored (out of order)."""
    if not ids:
        return set()
    result = await session.execute(
        select(facts.c.target_id).where(
            facts.c.is_voiding,
            # Proves the partial index applies whatever the array holds (ADR 0087).
            facts.c.target_id.is_not(None),
            facts.c.target_id == _any_uuid(ids),
        )
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
            facts.c.statement_id == _any_uuid(targets),
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


async def all_statement_ids_locked(session: AsyncSession) -> AsyncIterator[uuid.UUID]:
    """Stream every stored id, with inserts held back until the transaction ends (ADR 0059).

    SHARE mode lets reads go on and makes inserts wait, so no id can commit unseen.
    """
    await session.execute(text(f"LOCK TABLE {statements.fullname} IN SHARE MODE"))
    async for statement_id in await session.stream_scalars(select(statements.c.id)):
        yield statement_id


async def get_statements(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Return stored statements by id, voided or not (used for conflict checks)."""
    if not ids:
        return {}
    result = await session.execute(
        select(statements.c.id, statements.c.statement).where(statements.c.id == _any_uuid(ids))
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
    #: related_agents=true: the agent's identifier, matched anywhere in the statement.
    related_agent: dict[str, Any] | None = None
    #: related_activities=true: the activity also matches in context and sub-statements.
    related_activities: bool = False


# Every place an Activity can stand in a statement (xAPI Comm. 2.1.3 related_activities).
_ACTIVITY_PATHS = " || ".join(
    f"exists({path} ? (@.id == $a))"
    for path in (
        "$.object",
        "$.context.contextActivities.*[*]",
        "$.object.object",
        "$.object.context.contextActivities.*[*]",
    )
)


def _jsonpath(statement: Any, path: str, variables: dict[str, Any]) -> Any:
    # The paths are predicates (exists(...) || ...): jsonb_path_match returns their value.
    return func.jsonb_path_match(
        statement,
        cast(literal(path), JSONPATH),
        cast(literal(orjson.dumps(variables).decode()), JSONB),
    )


def _related_agent(statement: Any, agent: dict[str, Any]) -> Any:
    """Match the agent as actor, object, authority, instructor, team or member, at any depth."""
    if "account" in agent:
        path = "$.** ? (@.account.homePage == $h && @.account.name == $n)"
        variables = {"h": agent["account"]["homePage"], "n": agent["account"]["name"]}
    else:
        name = next(k for k in ("mbox", "mbox_sha1sum", "openid") if k in agent)
        path = f"$.** ? (@.{name} == $v)"
        variables = {"v": agent[name]}
    return _jsonpath(statement, f"exists({path})", variables)


def _content_conditions(fact: Any, raw: Any, where: StatementFilter) -> list[Any]:
    """Return the filters on a statement's content (agent, verb, activity, registration)."""
    conditions: list[Any] = []
    if where.agent_key is not None:
        agent = or_(fact.c.actor_key == where.agent_key, fact.c.object_agent_key == where.agent_key)
        if where.related_agent is not None:
            agent = or_(agent, _related_agent(raw.c.statement, where.related_agent))
        conditions.append(agent)
    if where.verb is not None:
        conditions.append(fact.c.verb_id == where.verb)
    if where.activity is not None:
        activity = fact.c.activity_id == where.activity
        if where.related_activities:
            activity = or_(
                activity, _jsonpath(raw.c.statement, _ACTIVITY_PATHS, {"a": where.activity})
            )
        conditions.append(activity)
    if where.registration is not None:
        conditions.append(fact.c.registration == where.registration)
    return conditions


async def query_statements(
    session: AsyncSession,
    where: StatementFilter,
    *,
    limit: int,
    ascending: bool,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Any]:
    """Return up to `limit` non-voided statements matching `where`, keyset-paged by (stored, id)."""
    conditions: list[ColumnElement[bool]] = [facts.c.voided.is_(False)]
    content = _content_conditions(facts, statements, where)
    if content:
        # Comm. 2.1.3 "Filter Conditions for StatementRefs": a statement also matches when
        # the statement it targets matches (voided or not), e.g. the voiding statement.
        target_facts = facts.alias("target_facts")
        target_statements = statements.alias("target_statements")
        targets = (
            select(target_facts.c.statement_id)
            .join(target_statements, target_statements.c.id == target_facts.c.statement_id)
            .where(*_content_conditions(target_facts, target_statements, where))
        )
        conditions.append(or_(and_(*content), facts.c.target_id.in_(targets)))
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


async def activity_per_day(
    session: AsyncSession,
    user_id: uuid.UUID,
    timezone: str,
    since: datetime | None,
    email: str | None = None,
) -> Sequence[Any]:
    """Count a learner's non-voided statements per local day (SPEC §5.5).

    The learner is the actor with their account on the platform or, when their
    e-mail is known, the `mbox` with it (SPEC §7.3).
    """
    day = cast(func.timezone(timezone, facts.c.timestamp), Date).label("day")
    actor = facts.c.user_id == user_id
    if email:
        actor = or_(actor, facts.c.actor_key == f"mbox:mailto:{email.lower()}")
    conditions = [actor, facts.c.voided.is_(False)]
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


# --- report projections (SPEC §5.5) ---------------------------------------------------


async def upsert_competition(session: AsyncSession, row: dict[str, Any]) -> None:
    """Store a competition's report facts unless a newer event already did."""
    statement = pg_insert(competitions).values(row)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[competitions.c.competition_id],
            set_={c: statement.excluded[c] for c in row if c != "competition_id"},
            where=competitions.c.as_of <= statement.excluded.as_of,
        )
    )


async def upsert_user(session: AsyncSession, row: dict[str, Any]) -> None:
    """Store a user's name, e-mail and time zone unless a newer event already did."""
    statement = pg_insert(users).values(row)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[users.c.user_id],
            set_={c: statement.excluded[c] for c in row if c != "user_id"},
            where=users.c.as_of <= statement.excluded.as_of,
        )
    )


async def add_participant(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID, joined_at: datetime
) -> None:
    """Record an accepted participant (a repeated acceptance changes nothing)."""
    await session.execute(
        pg_insert(participants)
        .values(competition_id=competition_id, user_id=user_id, joined_at=joined_at)
        .on_conflict_do_nothing()
    )


async def remove_participant(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Forget a participant who left."""
    await session.execute(
        delete(participants).where(
            participants.c.competition_id == competition_id, participants.c.user_id == user_id
        )
    )


async def get_competition(session: AsyncSession, competition_id: uuid.UUID) -> Any | None:
    """Return the projected competition row, or None."""
    return (
        await session.execute(
            select(competitions).where(competitions.c.competition_id == competition_id)
        )
    ).first()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> Any | None:
    """Return the projected user row, or None."""
    return (await session.execute(select(users).where(users.c.user_id == user_id))).first()


# One row per participant: their local day's bounds in their own time zone (DST-safe in
# Postgres), then their statements with the goal verb inside those bounds (SPEC §5.5).
_DAILY_GOAL = text(
    f"""
    SELECT p.user_id, u.display_name, zone.name AS timezone,
           done.completed_at, done.statements
    FROM {SCHEMA}.participants p
    LEFT JOIN {SCHEMA}.users u ON u.user_id = p.user_id
    CROSS JOIN LATERAL (SELECT coalesce(u.timezone, :fallback_timezone) AS name) zone
    CROSS JOIN LATERAL (
        SELECT (CAST(:day AS date) + time '00:00') AT TIME ZONE zone.name AS starts,
               (CAST(:day AS date) + 1 + time '00:00') AT TIME ZONE zone.name AS ends
    ) local_day
    CROSS JOIN LATERAL (
        SELECT min(f.timestamp) AS completed_at, count(*) AS statements
        FROM {SCHEMA}.statement_facts f
        WHERE f.verb_id = :verb AND f.voided IS false
          AND f.timestamp >= local_day.starts AND f.timestamp < local_day.ends
          AND (f.user_id = p.user_id
               OR f.actor_key = 'mbox:mailto:' || lower(coalesce(u.email, '')))
    ) done
    WHERE p.competition_id = :competition_id
      AND p.user_id > CAST(:after AS uuid)
      AND (done.statements > 0) = :completed
    ORDER BY p.user_id
    LIMIT :limit
    """  # noqa: S608
)


async def daily_goal_participants(
    session: AsyncSession,
    competition: Any,
    day: date,
    *,
    completed: bool,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[Any]:
    """Return participants who did (or did not) reach the daily goal on their local `day`."""
    return (
        await session.execute(
            _DAILY_GOAL,
            {
                "fallback_timezone": competition.timezone,
                "day": day,
                "verb": competition.daily_goal_verb,
                "competition_id": competition.competition_id,
                "after": after or uuid.UUID(int=0),
                "completed": completed,
                "limit": limit,
            },
        )
    ).all()


# --- rebuilds (podium_ingest.rebuilds) ---------------------------------------------


async def count_statements(session: AsyncSession) -> int:
    """Return how many raw statements are stored."""
    return int(await session.scalar(select(func.count()).select_from(statements)) or 0)


async def statements_after(session: AsyncSession, seq: int, limit: int) -> Sequence[Any]:
    """Return raw statements (`seq`, `statement` as JSON) after `seq`, in order."""
    result = await session.execute(
        select(statements.c.seq, statements.c.statement)
        .where(statements.c.seq > seq)
        .order_by(statements.c.seq)
        .limit(limit)
    )
    return result.all()


async def upsert_facts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert flattened rows, replacing the ones already there."""
    if not rows:
        return
    statement = pg_insert(facts).values(rows)
    columns = {c.name: statement.excluded[c.name] for c in facts.c if c.name != "statement_id"}
    await session.execute(
        statement.on_conflict_do_update(index_elements=[facts.c.statement_id], set_=columns)
    )


async def last_statement(session: AsyncSession) -> Any | None:
    """Return the id and `stored` of the statement stored last."""
    result = await session.execute(
        select(statements.c.id, statements.c.stored).order_by(statements.c.seq.desc()).limit(1)
    )
    return result.first()


def statements_attributed_to(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The raw statements whose flattened facts name the user (the personal-data export)."""
    return statements.c.id.in_(select(facts.c.statement_id).where(facts.c.user_id == user_id))

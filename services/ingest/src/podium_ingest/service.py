"""Use cases of the ingest service: record statements, read them back, report (no HTTP/Kafka)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from podium_contracts.envelope import utc_now
from podium_contracts.events import (
    CompetitionData,
    EnrollmentData,
    LearningBatchData,
    LearningData,
    StatementsReceived,
    StatementsRecorded,
    UserData,
)
from podium_runtime.cursors import CursorCodec
from podium_runtime.hygiene import json_problem, orjson_problem
from podium_runtime.outbox import Outbox
from podium_runtime.problems import ConflictError, NotFoundError
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest import repository
from podium_ingest.domain import flatten
from podium_ingest.repository import StatementFilter

PRODUCER = "ingest"

log = logging.getLogger(__name__)

STATEMENTS_RECORDED = Counter(
    "podium_ingest_statements_recorded_total",
    "Statements ingest stored and flattened, counted once their transaction committed",
)
STATEMENTS_REFUSED = Counter(
    "podium_ingest_statements_refused_total",
    "Statements ingest could not store and refused one by one (NUL text, broken fields)",
)


async def record_statements(
    session: AsyncSession,
    outbox: Outbox,
    received: Sequence[StatementsReceived],
    platform_url: str,
    on_refused: Callable[[str], None] | None = None,
    on_inserted: Callable[[Collection[uuid.UUID]], Awaitable[None]] | None = None,
) -> int:
    """Store raw and flattened statements of many events, apply voiding, emit their facts.

    A statement that cannot be stored (NUL text, broken fields) is refused alone:
    it is counted, logged and handed to `on_refused` by id; the others are stored.

    A statement id already stored is skipped: the gateway's claim guarantees it was the
    same statement (SPEC §5.4), and redelivery must have no second effect (SPEC §4).
    Facts travel in `learning.statements_recorded` events, one per received event and
    actor (ADR 0068), each with the correlation of the event its statements came in.
    `on_inserted` is awaited with the ids inserted, inside the transaction.
    Returns how many statements were new.
    """
    origin: dict[uuid.UUID, StatementsReceived] = {}
    rows: list[dict[str, Any]] = []
    for event in received:
        await _let_others_run(len(rows))
        client = event.data.lrs_client_id
        for statement in event.data.statements:
            try:
                # Each statement is stored or refused on its own: one that cannot be
                # stored must not take its neighbours to the dead-letter topic.
                row = flatten(statement, platform_url)
                if row["statement_id"] in origin:
                    continue  # a retried copy travelling in the same poll
                row["statement"] = _storable_text(statement)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                _refuse(statement, exc, on_refused)
                continue
            row["lrs_client_id"] = client
            origin[row["statement_id"]] = event
            rows.append(row)
    # xAPI 2.3.2: a voiding statement may arrive before its target (different actors travel
    # on different partitions); the target is then voided on arrival.
    inserted = await repository.record_statements(session, rows)
    if on_inserted is not None and inserted:
        await on_inserted(inserted.keys())
    flat: list[dict[str, Any]] = []
    for row in rows:
        earlier_voided = inserted.get(row["statement_id"])
        if earlier_voided is not None:
            row["voided"] = earlier_voided
            flat.append(row)
    # ADR 0068: one event per received event and actor, its facts in recording order;
    # the facts of voided targets after every statement's fact, as one event each were
    # (a target recorded in this poll is awarded before it is taken back).
    recorded: dict[tuple[uuid.UUID, str], _Batch] = {}
    for done, row in enumerate(flat):
        await _let_others_run(done)
        _add_fact(recorded, origin[row["statement_id"]], row)
    targets = [row["target_id"] for row in flat if row["is_voiding"]]
    voiders = {row["target_id"]: row["statement_id"] for row in flat if row["is_voiding"]}
    voided: dict[tuple[uuid.UUID, str], _Batch] = {}
    for target in await repository.mark_voided(session, targets):
        cause = origin[voiders[target.statement_id]]
        _add_fact(voided, cause, target._asdict() | {"voided": True})
    events = [
        _recorded(batch.cause, actor, batch.facts[start : start + FACTS_PER_EVENT])
        for batches in (recorded, voided)
        for (_, actor), batch in batches.items()
        for start in range(0, len(batch.facts), FACTS_PER_EVENT)
    ]
    for start in range(0, len(events), YIELD_EVERY):
        await outbox.add(session, *events[start : start + YIELD_EVERY])
    return len(flat)


#: Facts per `learning.statements_recorded` event: a few hundred bytes each, so an
#: event stays far below the broker's message size whatever the request's batch.
FACTS_PER_EVENT = 100


@dataclass
class _Batch:
    """The facts one received event yields for one actor (ADR 0068)."""

    cause: StatementsReceived
    facts: list[LearningData]


def _add_fact(
    batches: dict[tuple[uuid.UUID, str], _Batch], cause: StatementsReceived, row: dict[str, Any]
) -> None:
    fact = _fact(cause, row)
    batch = batches.get((cause.id, fact.actor))
    if batch is None:
        batches[(cause.id, fact.actor)] = _Batch(cause, [fact])
    else:
        batch.facts.append(fact)


def _refuse(statement: Any, error: Exception, on_refused: Callable[[str], None] | None) -> None:
    statement_id = str(statement.get("id", "?")) if isinstance(statement, dict) else "?"
    STATEMENTS_REFUSED.inc()
    log.warning(
        "statement cannot be stored; refused alone",
        extra={"statement_id": statement_id[:64], "error": repr(error)[:300]},
    )
    if on_refused is not None and statement_id != "?":
        on_refused(statement_id)


#: Statements handled between two yields to the event loop.
YIELD_EVERY = 200


async def _let_others_run(done: int) -> None:
    # A poll can carry thousands of statements; the same event loop answers the gateway's
    # conflict lookups, which must not wait for the whole batch (docs/adr/0004).
    if done and done % YIELD_EVERY == 0:
        await asyncio.sleep(0)


#: Deepest nesting of a statement ingest stores (the gateway admits less).
MAX_STATEMENT_DEPTH = 64


def _storable_text(statement: Any) -> str:
    """Return the statement as JSON text Postgres can store; ValueError when it cannot.

    Refuses what `json_problem` refuses (NUL, lone surrogates, nesting deeper than
    `MAX_STATEMENT_DEPTH`), mostly without walking the statement (`orjson_problem`).
    """
    try:
        text = orjson.dumps(statement)
    except orjson.JSONEncodeError:  # a lone surrogate, or an integer beyond 64 bits
        problem = json_problem(statement, max_depth=MAX_STATEMENT_DEPTH)
        if problem:
            raise ValueError(problem) from None
        return json.dumps(statement, ensure_ascii=False)
    problem = orjson_problem(text, statement, max_depth=MAX_STATEMENT_DEPTH)
    if problem:
        raise ValueError(problem)
    return text.decode()


def _fact(cause: StatementsReceived, row: dict[str, Any]) -> LearningData:
    # The row was built here from a validated statement: construct without re-validating
    # (thousands per second); serialisation still follows the contract's field types.
    return LearningData.model_construct(
        actor=row["actor_key"],
        statement_id=row["statement_id"],
        user_id=row["user_id"],
        verb=row["verb_id"],
        activity_id=row["activity_id"],
        timestamp=row["timestamp"],
        scaled_score=row["scaled_score"],
        success=row["success"],
        completion=row["completion"],
        voided=row["voided"],
        lrs_client_id=cause.data.lrs_client_id,
    )


def _recorded(
    cause: StatementsReceived, actor: str, facts: list[LearningData]
) -> StatementsRecorded:
    # The envelope too: its fields are ours. Every field is given, so pydantic runs no
    # default factory (it inspects each factory's signature on every call).
    return StatementsRecorded.model_construct(
        id=uuid.uuid4(),
        type="learning.statements_recorded",
        version=1,
        occurred_at=utc_now(),
        producer=PRODUCER,
        correlation_id=cause.correlation_id,
        causation_id=str(cause.id),
        data=LearningBatchData.model_construct(actor=actor, facts=facts),
    )


async def find_statement(
    session: AsyncSession, statement_id: uuid.UUID, *, voided: bool
) -> dict[str, Any] | None:
    """Return one statement; xAPI Communication 2.1.3: a voided one only by voidedStatementId."""
    found = await repository.get_statement(session, statement_id)
    if found is None or found[1] != voided:
        return None
    statement: dict[str, Any] = found[0]
    return statement


async def find_statements(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Return stored statements by id whatever their voided state (conflict checks)."""
    return await repository.get_statements(session, ids)


@dataclass(frozen=True)
class StatementPage:
    """One page of a statement query and the cursor of the next one."""

    statements: list[dict[str, Any]]
    cursor: str | None


#: Statement pages continue after (stored, statement id) of their last row.
STATEMENT_CURSOR = CursorCodec(datetime, uuid.UUID)
#: Daily-goal pages continue after the user id of their last participant.
PARTICIPANT_CURSOR = CursorCodec(uuid.UUID)


async def query_statements(
    session: AsyncSession,
    where: StatementFilter,
    *,
    limit: int,
    ascending: bool,
    cursor: str | None,
) -> StatementPage:
    """Return one page of matching statements, newest first unless `ascending`."""
    after = STATEMENT_CURSOR.decode_optional(cursor)
    rows = await repository.query_statements(
        session, where, limit=limit + 1, ascending=ascending, after=after
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = STATEMENT_CURSOR.encode(rows[-1].stored, rows[-1].statement_id) if more else None
    return StatementPage([r.statement for r in rows], next_cursor)


async def learner_activity(
    session: AsyncSession, user_id: uuid.UUID, timezone: str | None, since: datetime | None
) -> tuple[str, list[dict[str, Any]]]:
    """Summarise a learner's statements per local day (SPEC §5.5).

    Days are the learner's own (their profile's time zone) unless `timezone` says
    otherwise; returns the zone used and the days.
    """
    user = await repository.get_user(session, user_id)
    zone = timezone or (user.timezone if user else "UTC")
    rows = await repository.activity_per_day(
        session, user_id, zone, since, user.email if user else None
    )
    return zone, [
        {
            "date": r.day.isoformat(),
            "statements": r.statements,
            "completed": r.completed,
            "succeeded": r.succeeded,
            "activities": r.activities,
        }
        for r in rows
    ]


# --- report projections (SPEC §5.5) ---------------------------------------------------


async def record_competition(session: AsyncSession, data: CompetitionData, as_of: datetime) -> None:
    """Keep the facts reports need: owner, time zone, window and the daily goal verb."""
    goal = (data.rules or {}).get("daily_goal_verb")
    await repository.upsert_competition(
        session,
        {
            "competition_id": data.competition_id,
            "owner_id": data.owner_id,
            "title": data.title,
            "timezone": data.timezone,
            "daily_goal_verb": goal if isinstance(goal, str) else None,
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "as_of": as_of,
        },
    )


async def record_user(session: AsyncSession, data: UserData, as_of: datetime) -> None:
    """Keep a user's display name, e-mail and time zone."""
    await repository.upsert_user(
        session,
        {
            "user_id": data.user_id,
            "email": data.email,
            "display_name": data.display_name,
            "timezone": data.timezone,
            "as_of": as_of,
        },
    )


async def record_enrollment(
    session: AsyncSession, data: EnrollmentData, joined_at: datetime, *, accepted: bool
) -> None:
    """Add an accepted participant, or remove one who left."""
    if accepted:
        await repository.add_participant(session, data.competition_id, data.user_id, joined_at)
    else:
        await repository.remove_participant(session, data.competition_id, data.user_id)


class CompetitionUnknownError(NotFoundError):
    """No competition with that id reached ingest."""

    def __init__(self, competition_id: uuid.UUID) -> None:
        super().__init__("COMPETITION_NOT_FOUND", f"no competition {competition_id}")


class NoDailyGoalError(ConflictError):
    """The competition's rules name no `daily_goal_verb`."""

    def __init__(self) -> None:
        super().__init__(
            "NO_DAILY_GOAL",
            "The competition's rules name no daily_goal_verb, so no lesson is due daily.",
        )


@dataclass(frozen=True)
class DailyGoalReport:
    """Participants who did (or did not) reach a competition's daily goal on a day."""

    competition: Any
    participants: list[dict[str, Any]]
    cursor: str | None


async def daily_goal_report(
    session: AsyncSession,
    competition_id: uuid.UUID,
    day: date,
    *,
    completed: bool,
    limit: int,
    cursor: str | None,
) -> DailyGoalReport:
    """Return one page of participants by whether they completed `day`'s lesson (SPEC §5.5)."""
    competition = await repository.get_competition(session, competition_id)
    if competition is None:
        raise CompetitionUnknownError(competition_id)
    if not competition.daily_goal_verb:
        raise NoDailyGoalError()
    found = PARTICIPANT_CURSOR.decode_optional(cursor)
    after = found[0] if found else None
    rows = await repository.daily_goal_participants(
        session, competition, day, completed=completed, after=after, limit=limit + 1
    )
    page = [
        {
            "user_id": r.user_id,
            "display_name": r.display_name,
            "timezone": r.timezone,
            "completed_at": r.completed_at,
            "statements": r.statements,
        }
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    next_cursor = PARTICIPANT_CURSOR.encode(page[-1]["user_id"]) if more else None
    return DailyGoalReport(competition, page, next_cursor)

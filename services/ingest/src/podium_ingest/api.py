"""Internal read API of the ingest service, called only by the gateway (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from podium_runtime.deps import SessionDep
from podium_runtime.problems import Problem
from podium_runtime.timezones import is_iana_zone

from podium_ingest import service
from podium_ingest.deps import ConsistencyDep, SettingsDep
from podium_ingest.repository import StatementFilter
from podium_ingest.schemas import (
    DailyGoalReportOut,
    DayActivity,
    GoalParticipant,
    LearnerActivity,
    StatementLookup,
    StatementPageOut,
    StatementsById,
)


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


router = APIRouter(prefix="/internal", tags=["internal"])


@router.get("/consistency")
async def consistent_through(consistency: ConsistencyDep) -> dict[str, str]:
    """Return the instant before which every accepted statement is readable."""
    return {"consistent_through": _format(await consistency.through())}


@router.get("/statements/{statement_id}")
async def get_statement(
    statement_id: uuid.UUID, session: SessionDep, voided: bool = False
) -> dict[str, Any]:
    """Return one statement; voided ones only with `voided=true` (xAPI Comm. 2.1.3)."""
    found = await service.find_statement(session, statement_id, voided=voided)
    if found is None:
        raise Problem(404, "STATEMENT_NOT_FOUND", f"no statement {statement_id}")
    return found


@router.post("/statements/lookup")
async def lookup(body: StatementLookup, session: SessionDep) -> StatementsById:
    """Return stored statements by id, voided or not (conflict checks)."""
    found = await service.find_statements(session, body.ids)
    return StatementsById(statements={str(k): v for k, v in found.items()})


@router.get("/statements")
async def query(
    session: SessionDep,
    consistency: ConsistencyDep,
    settings: SettingsDep,
    agent_key: str | None = None,
    verb: str | None = None,
    activity: str | None = None,
    registration: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=0)] = 0,
    ascending: bool = False,
    cursor: str | None = None,
    lrs_client_id: uuid.UUID | None = None,
    related_agent: str | None = None,
    related_activities: bool = False,
) -> StatementPageOut:
    """Query statements with the xAPI filters; keyset pages by (stored, id)."""
    # xAPI Comm. 2.1.3: limit 0 means the server maximum.
    size = settings.max_page_size if limit == 0 else min(limit, settings.max_page_size)
    where = StatementFilter(
        agent_key,
        verb,
        activity,
        registration,
        since,
        until,
        lrs_client_id,
        related_agent=orjson.loads(related_agent) if related_agent else None,
        related_activities=related_activities,
    )
    # Read the consistency point before the query: everything stored before it is visible.
    consistent = await consistency.through()
    page = await service.query_statements(
        session, where, limit=size, ascending=ascending, cursor=cursor
    )
    return StatementPageOut(
        statements=page.statements, cursor=page.cursor, consistent_through=_format(consistent)
    )


@router.get("/reports/learners/{user_id}/activity")
async def learner_activity(
    user_id: uuid.UUID,
    session: SessionDep,
    timezone: str | None = None,
    since: datetime | None = None,
) -> LearnerActivity:
    """Summarise a learner's statements per day, in their own time zone by default."""
    if timezone is not None and not is_iana_zone(timezone):
        raise Problem(400, "INVALID_TIMEZONE", f"unknown time zone {timezone!r}")
    zone, days = await service.learner_activity(session, user_id, timezone, since)
    return LearnerActivity(user_id=user_id, timezone=zone, days=[DayActivity(**d) for d in days])


@router.get("/reports/competitions/{competition_id}/daily-goal")
async def daily_goal(
    competition_id: uuid.UUID,
    date: date,
    completed: bool,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> DailyGoalReportOut:
    """Participants who did (or did not) send the daily goal verb on their local `date`."""
    report = await service.daily_goal_report(
        session, competition_id, date, completed=completed, limit=limit, cursor=cursor
    )
    return DailyGoalReportOut(
        competition_id=competition_id,
        owner_id=report.competition.owner_id,
        date=date,
        daily_goal_verb=report.competition.daily_goal_verb,
        participants=[GoalParticipant(**p) for p in report.participants],
        next_cursor=report.cursor,
    )

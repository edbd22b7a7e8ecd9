"""Report routes of the public API, read from ingest's internal API (SPEC §5.5, §6).

Daily goal reports list a competition's participants by whether they sent the
competition's `daily_goal_verb` on the given day, each day taken in the
participant's own time zone; they are for admins and the competition's owner.
The learner activity summary is for admins and the learner themself. Anyone
else gets 404, as if there were nothing to see (SPEC §8).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query, Request
from podium_runtime.problems import Problem
from pydantic import BaseModel

from podium_gateway.auth import CurrentUser, UserDep
from podium_gateway.clients import HttpDep, SettingsDep, call

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class ReportParticipant(BaseModel):
    """A participant in a daily goal report."""

    user_id: uuid.UUID
    display_name: str | None
    #: The participant's time zone, in which `date` was taken.
    timezone: str
    #: When they first sent the goal verb that day (completions only).
    completed_at: str | None = None
    #: How many goal statements they sent that day.
    statements: int


class DailyGoalReport(BaseModel):
    """One page of a competition's participants for one day."""

    competition_id: uuid.UUID
    date: date
    daily_goal_verb: str
    participants: list[ReportParticipant]
    next_cursor: str | None


class DayActivity(BaseModel):
    """A learner's statements on one local day."""

    date: date
    statements: int
    completed: int
    succeeded: int
    activities: int


class LearnerActivity(BaseModel):
    """Statements summary per day (SPEC §5.5)."""

    user_id: uuid.UUID
    timezone: str
    days: list[DayActivity]


async def _ingest(
    http: httpx.AsyncClient, url: str, path: str, params: dict[str, Any]
) -> dict[str, Any]:
    response = await call(http, "GET", f"{url.rstrip('/')}{path}", service="ingest", params=params)
    if response.status_code >= 500:
        raise Problem(503, "SERVICE_UNAVAILABLE", "Reports are unavailable; try again shortly.")
    body: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise Problem(
            response.status_code,
            body.get("code", "REPORT_FAILED"),
            body.get("detail", "The report could not be made."),
        )
    return body


def _not_found(competition_id: uuid.UUID) -> Problem:
    return Problem(404, "COMPETITION_NOT_FOUND", f"No competition {competition_id} to report on.")


async def _daily_goal(
    request: Request,
    competition_id: uuid.UUID,
    day: date,
    user: CurrentUser,
    *,
    completed: bool,
    limit: int,
    cursor: str | None,
) -> DailyGoalReport:
    settings = request.app.state.settings
    params: dict[str, Any] = {
        "date": day.isoformat(),
        "completed": str(completed).lower(),
        "limit": limit,
    }
    if cursor:
        params["cursor"] = cursor
    try:
        body = await _ingest(
            request.app.state.http,
            settings.ingest_url,
            f"/internal/reports/competitions/{competition_id}/daily-goal",
            params,
        )
    except Problem as exc:
        if exc.status == 404:
            raise _not_found(competition_id) from exc
        raise
    # Object-level check (SPEC §5.5, §8): the owner and admins only.
    if not user.is_admin and body["owner_id"] != str(user.user_id):
        raise _not_found(competition_id)
    participants = [
        ReportParticipant(**{**p, "completed_at": p["completed_at"] if completed else None})
        for p in body["participants"]
    ]
    return DailyGoalReport(
        competition_id=competition_id,
        date=day,
        daily_goal_verb=body["daily_goal_verb"],
        participants=participants,
        next_cursor=body["next_cursor"],
    )


Limit = Annotated[int, Query(ge=1, le=1000, description="Participants per page")]
Day = Annotated[date, Query(alias="date", description="The day, YYYY-MM-DD, local to each")]


@router.get(
    "/competitions/{competition_id}/completions",
    summary="Participants who completed the day's lesson",
)
async def completions(
    request: Request,
    competition_id: uuid.UUID,
    day: Day,
    user: UserDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> DailyGoalReport:
    """Participants who sent the daily goal verb on `date` in their own time zone."""
    return await _daily_goal(
        request, competition_id, day, user, completed=True, limit=limit, cursor=cursor
    )


@router.get(
    "/competitions/{competition_id}/incomplete",
    summary="Participants who did not complete the day's lesson",
)
async def incomplete(
    request: Request,
    competition_id: uuid.UUID,
    day: Day,
    user: UserDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> DailyGoalReport:
    """Participants who sent no daily goal statement on `date` in their own time zone."""
    return await _daily_goal(
        request, competition_id, day, user, completed=False, limit=limit, cursor=cursor
    )


@router.get("/learners/{user_id}/activity", summary="A learner's statements per day")
async def learner_activity(
    user_id: uuid.UUID,
    user: UserDep,
    http: HttpDep,
    settings: SettingsDep,
    since: date | None = None,
) -> LearnerActivity:
    """Statements per local day of the learner (their own time zone); admin or the learner."""
    if not user.is_admin and user.user_id != user_id:
        raise Problem(404, "USER_NOT_FOUND", f"No learner {user_id} to report on.")
    params = {"since": since.isoformat() + "T00:00:00Z"} if since else {}
    body = await _ingest(
        http, settings.ingest_url, f"/internal/reports/learners/{user_id}/activity", params
    )
    return LearnerActivity(**body)

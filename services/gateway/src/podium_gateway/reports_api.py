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
from typing import Annotated

from fastapi import APIRouter, Query
from podium_runtime.problems import Problem
from pydantic import BaseModel

from podium_gateway.auth import CurrentUser, UserDep
from podium_gateway.clients.ingest import IngestClient, IngestDep

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


def _not_found(competition_id: uuid.UUID) -> Problem:
    return Problem(404, "COMPETITION_NOT_FOUND", f"No competition {competition_id} to report on.")


async def _daily_goal(
    ingest: IngestClient,
    competition_id: uuid.UUID,
    day: date,
    user: CurrentUser,
    *,
    completed: bool,
    limit: int,
    cursor: str | None,
) -> DailyGoalReport:
    try:
        body = await ingest.daily_goal(
            competition_id, day, completed=completed, limit=limit, cursor=cursor
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
    ingest: IngestDep,
    competition_id: uuid.UUID,
    day: Day,
    user: UserDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> DailyGoalReport:
    """Participants who sent the daily goal verb on `date` in their own time zone."""
    return await _daily_goal(
        ingest, competition_id, day, user, completed=True, limit=limit, cursor=cursor
    )


@router.get(
    "/competitions/{competition_id}/incomplete",
    summary="Participants who did not complete the day's lesson",
)
async def incomplete(
    ingest: IngestDep,
    competition_id: uuid.UUID,
    day: Day,
    user: UserDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> DailyGoalReport:
    """Participants who sent no daily goal statement on `date` in their own time zone."""
    return await _daily_goal(
        ingest, competition_id, day, user, completed=False, limit=limit, cursor=cursor
    )


@router.get("/learners/{user_id}/activity", summary="A learner's statements per day")
async def learner_activity(
    user_id: uuid.UUID,
    user: UserDep,
    ingest: IngestDep,
    since: date | None = None,
) -> LearnerActivity:
    """Statements per local day of the learner (their own time zone); admin or the learner."""
    if not user.is_admin and user.user_id != user_id:
        raise Problem(404, "USER_NOT_FOUND", f"No learner {user_id} to report on.")
    return LearnerActivity(**await ingest.learner_activity(user_id, since))

"""Request and response models of ingest's internal read API (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class StatementLookup(BaseModel):
    """Ids whose stored statements the gateway wants for a conflict check."""

    ids: list[uuid.UUID] = Field(max_length=1000)


class StatementsById(BaseModel):
    """Stored statements by id (absent ids are not stored)."""

    statements: dict[str, dict[str, Any]]


class StatementPageOut(BaseModel):
    """One page of a statement query."""

    statements: list[dict[str, Any]]
    cursor: str | None
    consistent_through: str


class DayActivity(BaseModel):
    """A learner's statements on one local day."""

    date: str
    statements: int
    completed: int
    succeeded: int
    activities: int


class LearnerActivity(BaseModel):
    """Statements summary per day (SPEC §5.5)."""

    user_id: uuid.UUID
    timezone: str
    days: list[DayActivity]


class GoalParticipant(BaseModel):
    """A participant in a daily goal report; `completed_at` is their first goal statement."""

    user_id: uuid.UUID
    display_name: str | None
    timezone: str
    completed_at: datetime | None
    statements: int


class DailyGoalReportOut(BaseModel):
    """One page of participants by whether they reached the daily goal on `date`."""

    competition_id: uuid.UUID
    owner_id: uuid.UUID
    date: date
    daily_goal_verb: str
    participants: list[GoalParticipant]
    next_cursor: str | None

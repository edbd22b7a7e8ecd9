"""Request and response models of ingest's internal read API (SPEC §6)."""

from __future__ import annotations

import uuid
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

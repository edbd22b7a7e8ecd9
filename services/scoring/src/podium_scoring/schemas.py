"""Response models of the scoring service's internal read API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from podium_runtime.db import AnyRow
from pydantic import BaseModel, Field

from podium_scoring.metrics import METRICS

SubmissionStatus = Literal["queued", "scored", "rejected", "invalidated"]


class SubmissionErrorOut(BaseModel):
    """One reason a submission was rejected (SPEC §5.3 `errors`)."""

    code: str
    message: str
    column: str | None = None
    rows: list[str] = Field(default_factory=list)
    count: int | None = None


class SubmissionOut(BaseModel):
    """A submission as scoring sees it; the gateway decides what the caller may see."""

    id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    status: SubmissionStatus
    #: The status before invalidation (scored or rejected), for owners.
    outcome: Literal["queued", "scored", "rejected"]
    metric: str | None
    higher_is_better: bool | None
    public_score: float | None
    private_score: float | None
    errors: list[SubmissionErrorOut]
    size_bytes: int
    submitted_at: datetime
    scored_at: datetime | None
    invalidated_at: datetime | None

    @classmethod
    def from_row(cls, row: AnyRow) -> SubmissionOut:
        """Build the view of a `submissions` row."""
        metric = METRICS.get(row.metric) if row.metric else None
        return cls(
            id=row.submission_id,
            competition_id=row.competition_id,
            user_id=row.user_id,
            status="invalidated" if row.invalidated_at is not None else row.status,
            outcome=row.status,
            metric=row.metric,
            higher_is_better=metric.higher_is_better if metric else None,
            public_score=row.public_score,
            private_score=row.private_score,
            errors=[SubmissionErrorOut(**e) for e in row.errors],
            size_bytes=row.size_bytes,
            submitted_at=row.submitted_at,
            scored_at=row.scored_at,
            invalidated_at=row.invalidated_at,
        )


class SubmissionPage(BaseModel):
    """One page of submissions, newest first."""

    items: list[SubmissionOut]
    next_cursor: str | None


class AnswerKeyOut(BaseModel):
    """The state of a competition's answer key, for its owner."""

    competition_id: uuid.UUID
    status: Literal["ready", "invalid"]
    sha256: str
    rows: int | None
    id_column: str | None
    target_column: str | None
    public_fraction: float
    errors: list[SubmissionErrorOut]
    loaded_at: datetime


class CompetitionOut(BaseModel):
    """What scoring knows of a competition: how it scores and whether its key is usable."""

    competition_id: uuid.UUID
    kind: str
    status: str
    metric: str | None
    higher_is_better: bool | None
    public_fraction: float | None
    answer_key: AnswerKeyOut | None

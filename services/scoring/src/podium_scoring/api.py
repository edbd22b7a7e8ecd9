"""Internal read API of the scoring service, called only by the gateway (SPEC §6).

The gateway authenticates users and applies object-level rules (a user sees
only their own submissions; private scores for owners or after the end); this
API is reachable only inside the cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from podium_runtime.cursors import CursorCodec
from podium_runtime.db import AnyRow
from podium_runtime.deps import SessionDep
from podium_runtime.problems import Problem
from podium_runtime.runtime import ServiceRuntime

from podium_scoring import repository
from podium_scoring.metrics import METRICS
from podium_scoring.schemas import (
    AnswerKeyOut,
    CompetitionOut,
    SubmissionErrorOut,
    SubmissionOut,
    SubmissionPage,
)

router = APIRouter(prefix="/internal", tags=["internal"])


#: Submission pages continue after (submitted_at, submission id) of their last row.
SUBMISSION_CURSOR = CursorCodec(datetime, uuid.UUID)


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
async def get_submission(submission_id: uuid.UUID, session: SessionDep) -> SubmissionOut:
    """Return one submission's status, scores and errors."""
    row = await repository.get_submission(session, submission_id)
    if row is None:
        raise Problem(404, "SUBMISSION_NOT_FOUND", "no such submission")
    return SubmissionOut.from_row(row)


@router.get("/competitions/{competition_id}/submissions", response_model=SubmissionPage)
async def list_submissions(
    competition_id: uuid.UUID,
    session: SessionDep,
    user_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> SubmissionPage:
    """Return a competition's submissions (one user's with `user_id`), newest first."""
    after = SUBMISSION_CURSOR.decode_optional(cursor)
    rows = await repository.list_submissions(
        session, competition_id, user_id=user_id, limit=limit + 1, after=after
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = SUBMISSION_CURSOR.encode(last.submitted_at, last.submission_id)
    return SubmissionPage(items=[SubmissionOut.from_row(r) for r in page], next_cursor=next_cursor)


#: Rows per keyset page of a streamed export: memory stays bounded whatever the total.
EXPORT_PAGE = 1000


@router.get(
    "/competitions/{competition_id}/submissions/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_submissions(competition_id: uuid.UUID, request: Request) -> StreamingResponse:
    """Stream every submission of a competition as JSON lines, newest first (SPEC §10.2).

    The order and shape are those of the paged list; each page of the keyset is
    read in its own short transaction, so a 100,000-row export holds one page.
    """
    runtime: ServiceRuntime = request.app.state.runtime

    async def lines() -> AsyncIterator[bytes]:
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            async with runtime.db.session() as session:
                rows = await repository.list_submissions(
                    session, competition_id, user_id=None, limit=EXPORT_PAGE, after=after
                )
            if not rows:
                return
            yield b"".join(
                SubmissionOut.from_row(r).model_dump_json().encode() + b"\n" for r in rows
            )
            if len(rows) < EXPORT_PAGE:
                return
            after = (rows[-1].submitted_at, rows[-1].submission_id)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _answer_key_out(row: AnyRow) -> AnswerKeyOut:
    return AnswerKeyOut(
        competition_id=row.competition_id,
        status=row.status,
        sha256=row.sha256,
        rows=row.rows,
        id_column=row.id_column,
        target_column=row.target_column,
        public_fraction=row.public_fraction,
        errors=[SubmissionErrorOut(**e) for e in row.errors],
        loaded_at=row.loaded_at,
    )


@router.get("/competitions/{competition_id}", response_model=CompetitionOut)
async def get_competition(competition_id: uuid.UUID, session: SessionDep) -> CompetitionOut:
    """Return how a competition is scored and the state of its answer key."""
    row = await repository.get_competition(session, competition_id)
    if row is None:
        raise Problem(404, "COMPETITION_NOT_FOUND", "scoring knows no such competition")
    key = await repository.get_answer_key(session, competition_id)
    metric = METRICS.get(row.metric) if row.metric else None
    return CompetitionOut(
        competition_id=row.competition_id,
        kind=row.kind,
        status=row.status,
        metric=row.metric,
        higher_is_better=metric.higher_is_better if metric else None,
        public_fraction=row.public_fraction,
        answer_key=_answer_key_out(key) if key is not None else None,
    )


@router.get("/competitions/{competition_id}/answer-key", response_model=AnswerKeyOut)
async def get_answer_key(competition_id: uuid.UUID, session: SessionDep) -> AnswerKeyOut:
    """Return whether the competition's answer key is usable, and why not."""
    row = await repository.get_answer_key(session, competition_id)
    if row is None:
        raise Problem(404, "ANSWER_KEY_MISSING", "the competition has no answer key yet")
    return _answer_key_out(row)

"""Event handlers of the scoring service (thin: parse, call the service)."""

from __future__ import annotations

import logging

from podium_contracts.events import (
    AnswerKeyUploaded,
    CompetitionCreated,
    CompetitionUpdated,
    RescoreRequested,
    SubmissionInvalidated,
    SubmissionReceived,
)
from podium_runtime.broker import DeadLetter, is_final_attempt
from podium_runtime.db import Database
from podium_runtime.failures import is_infrastructure_error
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_scoring import service
from podium_scoring.config import Settings
from podium_scoring.domain import ScoringRejectedError
from podium_scoring.service import NotReadyError, Scorer

log = logging.getLogger(__name__)

router = EventRouter()


def _batch_size(settings: Settings) -> int:
    return settings.submission_batch_size


@router.handles(CompetitionCreated, CompetitionUpdated)
async def on_competition_changed(
    session: AsyncSession, event: CompetitionCreated | CompetitionUpdated
) -> None:
    """Keep the metric and public fraction of each competition."""
    await service.record_competition(session, event.data)


@router.handles(AnswerKeyUploaded)
async def on_answer_key_uploaded(
    session: AsyncSession, event: AnswerKeyUploaded, *, scorer: Scorer
) -> None:
    """Load the new answer key once and fix its public/private split (SPEC §7.1)."""
    await service.load_answer_key(session, scorer, event.data)


# Near a deadline a competition's submissions queue on its partition: a poll's files are
# scored in one unit of work (ADR 0063); should it fail, the runtime applies them one by one.
@router.handles_batch(SubmissionReceived, max_records=_batch_size)
async def on_submissions_received(
    session: AsyncSession,
    events: list[SubmissionReceived],
    *,
    scorer: Scorer,
    database: Database,
) -> None:
    """Score a poll's submissions; after the last failed attempt one is rejected, never left queued.

    A poll's files are scored together; any failure other than a rejection makes
    the runtime apply the poll again one message at a time, with retries. There each
    message keeps the retry contract (SPEC §4): before the last attempt gives up,
    the rejection with `SCORING_FAILED` is committed in its own unit of work, so
    the participant sees the outcome and the daily slot is given back while the
    operator finds the message on the dead-letter topic (SPEC §7.1).
    """
    final = is_final_attempt()  # only ever True for a poll applied one message at a time
    try:
        await service.score_submissions(session, scorer, events, final_attempt=final)
    except Exception as exc:
        if not final or is_infrastructure_error(exc):
            raise  # an outage is waited out by the runtime, never turned into a rejection
        # This attempt's work is lost anyway; rolling it back now releases the
        # submission row, which the rejection below writes in its own transaction.
        await session.rollback()
        async with database.session() as own:
            for event in events:
                await service.reject_unscorable(own, scorer, event.data, exc)
        raise


@router.handles(RescoreRequested)
async def on_rescore_requested(
    session: AsyncSession, event: RescoreRequested, *, scorer: Scorer
) -> None:
    """Rescore every submission of the competition against its current key."""
    try:
        count = await service.rescore_competition(session, scorer, event.data)
    except (NotReadyError, ScoringRejectedError) as exc:
        # Nothing can be rescored without a key; the request itself is the problem.
        raise DeadLetter(exc.code, exc.message) from exc
    log.info("competition rescored", extra={"submissions": count})


@router.handles(SubmissionInvalidated)
async def on_submission_invalidated(session: AsyncSession, event: SubmissionInvalidated) -> None:
    """Show the submission as invalidated in scoring's reads."""
    await service.invalidate_submission(session, event.data)

"""Use cases of the scoring service: keep answer keys, score submissions, rescore (SPEC §7.1).

Functions take the caller's session and only `flush()` through the repository;
the entrypoint (consumer or request) owns the transaction (STYLE 3). Events
go out through the outbox in the same transaction as the state they describe.
Parsing and scoring run in a worker thread so a large file never stalls the
event loop (health checks, other consumers).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from podium_contracts.codes import SubmissionErrorCode
from podium_contracts.envelope import Event
from podium_contracts.events import (
    AnswerKeyData,
    CompetitionData,
    RejectedData,
    RescoreData,
    ScoredData,
    SubmissionError,
    SubmissionInvalidatedData,
    SubmissionReceived,
    SubmissionReceivedData,
    SubmissionRejected,
    SubmissionScored,
)
from podium_runtime.blobs import BlobIntegrityError, BlobStore
from podium_runtime.context import bound
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from sqlalchemy.ext.asyncio import AsyncSession

from podium_scoring import repository
from podium_scoring.config import Settings
from podium_scoring.domain import (
    DEFAULT_PUBLIC_FRACTION,
    AnswerKey,
    Scores,
    ScoringRejectedError,
    parse_answer_key,
    score,
)
from podium_scoring.metrics import METRICS, Metric
from podium_scoring.validation import (
    FileError,
    FileInvalidError,
    summarise_errors,
    validate_submission,
)

log = logging.getLogger(__name__)

#: The code a submission gets when the scorer itself failed after bounded retries (SPEC §7.1).
SCORING_FAILED = SubmissionErrorCode.SCORING_FAILED


class NotReadyError(Exception):
    """Scoring cannot start yet (no competition or answer key known); worth retrying."""

    def __init__(self, code: SubmissionErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AnswerKeyCache:
    """Parsed answer keys by competition, checked against the stored sha and split fraction."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[uuid.UUID, AnswerKey] = OrderedDict()

    def lookup(self, competition_id: uuid.UUID, sha256: str, fraction: float) -> AnswerKey | None:
        """Return the cached key if it is still the current one."""
        key = self._keys.get(competition_id)
        if key is None or key.sha256 != sha256 or key.public_fraction != fraction:
            return None
        self._keys.move_to_end(competition_id)
        return key

    def store(self, competition_id: uuid.UUID, key: AnswerKey) -> None:
        """Keep `key`, dropping the least recently used one beyond capacity."""
        self._keys[competition_id] = key
        self._keys.move_to_end(competition_id)
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)


@dataclass
class Scorer:
    """What the use cases need besides the session: blobs, outbox, limits, the key cache."""

    blobs: BlobStore
    outbox: Outbox
    settings: Settings
    keys: AnswerKeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.keys = AnswerKeyCache(self.settings.answer_key_cache_size)


def _now() -> datetime:
    return datetime.now(UTC)


# --- competitions and answer keys ----------------------------------------------------


async def record_competition(session: AsyncSession, data: CompetitionData) -> None:
    """Keep the metric, kind and public fraction of a competition (own projection)."""
    await repository.upsert_competition(
        session,
        competition_id=data.competition_id,
        kind=data.kind,
        status=data.status,
        metric=data.metric,
        public_fraction=data.public_fraction,
    )


async def load_answer_key(session: AsyncSession, scorer: Scorer, data: AnswerKeyData) -> None:
    """Fetch, check and parse a new answer key once; fix its split; remember where it lies.

    A key that cannot be used is recorded as `invalid` with its errors (the
    owner sees them through the internal API) and submissions are rejected
    with `ANSWER_KEY_INVALID` until a good key arrives.
    """
    competition = await repository.get_competition(session, data.competition_id)
    fraction = DEFAULT_PUBLIC_FRACTION
    if competition is not None and competition.public_fraction is not None:
        fraction = competition.public_fraction
    record: dict[str, Any] = {
        "blob_key": data.blob_key,
        "sha256": data.sha256.lower(),
        "public_fraction": fraction,
        "uploaded_by": data.uploaded_by,
    }
    errors: list[FileError] = []
    key: AnswerKey | None = None
    try:
        raw = await scorer.blobs.get_verified(data.blob_key, data.sha256)
        key = await asyncio.to_thread(
            parse_answer_key,
            raw,
            competition_id=str(data.competition_id),
            sha256=data.sha256.lower(),
            public_fraction=fraction,
            max_bytes=scorer.settings.max_answer_key_bytes,
        )
    except BlobIntegrityError as exc:
        errors = [FileError(SubmissionErrorCode.CHECKSUM_MISMATCH, str(exc))]
    except FileInvalidError as exc:
        errors = exc.errors
    if key is None:
        log.warning(
            "answer key rejected",
            extra={"competition_id": str(data.competition_id), "codes": [e.code for e in errors]},
        )
        record.update(status="invalid", errors=[e.as_dict() for e in errors])
    else:
        record.update(
            status="ready",
            errors=[],
            id_column=key.id_column,
            target_column=key.target_column,
            rows=key.size,
        )
        scorer.keys.store(data.competition_id, key)
    await repository.upsert_answer_key(session, data.competition_id, record)


async def _current_key(
    session: AsyncSession, scorer: Scorer, competition_id: uuid.UUID
) -> AnswerKey:
    """Return the parsed current key, reloading it from the blob store after a restart."""
    row = await repository.get_answer_key(session, competition_id)
    if row is None:
        raise NotReadyError(
            SubmissionErrorCode.ANSWER_KEY_MISSING, "the competition has no answer key yet"
        )
    if row.status != "ready":
        reasons = "; ".join(e.get("message", "") for e in row.errors) or "unusable"
        raise ScoringRejectedError(
            SubmissionErrorCode.ANSWER_KEY_INVALID, f"the answer key is invalid: {reasons}"
        )
    cached = scorer.keys.lookup(competition_id, row.sha256, row.public_fraction)
    if cached is not None:
        return cached
    raw = await scorer.blobs.get_verified(row.blob_key, row.sha256)
    key = await asyncio.to_thread(
        parse_answer_key,
        raw,
        competition_id=str(competition_id),
        sha256=row.sha256,
        public_fraction=row.public_fraction,
        max_bytes=scorer.settings.max_answer_key_bytes,
    )
    scorer.keys.store(competition_id, key)
    return key


# --- scoring ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """The facts of one submission to score."""

    submission_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    blob_key: str
    sha256: str
    size_bytes: int
    submitted_at: datetime

    @classmethod
    def from_row(cls, row: AnyRow) -> _Job:
        return cls(
            row.submission_id,
            row.competition_id,
            row.user_id,
            row.blob_key,
            row.sha256,
            row.size_bytes,
            row.submitted_at,
        )

    @classmethod
    def from_event(cls, data: SubmissionReceivedData) -> _Job:
        return cls(
            data.submission_id,
            data.competition_id,
            data.user_id,
            data.blob_key,
            data.sha256,
            data.size_bytes,
            data.submitted_at,
        )

    def received(self) -> dict[str, Any]:
        """Return the submission's row as stored when it is received (status queued)."""
        return {
            "submission_id": self.submission_id,
            "competition_id": self.competition_id,
            "user_id": self.user_id,
            "blob_key": self.blob_key,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "submitted_at": self.submitted_at,
        }


async def _metric_of(session: AsyncSession, competition_id: uuid.UUID) -> Metric:
    competition = await repository.get_competition(session, competition_id)
    if competition is None:
        raise NotReadyError(
            SubmissionErrorCode.COMPETITION_UNKNOWN, "the competition is not known to scoring yet"
        )
    if competition.kind != "prediction":
        raise ScoringRejectedError(
            SubmissionErrorCode.NOT_A_PREDICTION_COMPETITION,
            "only prediction competitions take submission files",
        )
    if competition.metric not in METRICS:
        raise ScoringRejectedError(
            SubmissionErrorCode.METRIC_MISSING, "the competition has no scoring metric"
        )
    return METRICS[competition.metric]


def _validate_and_score(data: bytes, key: AnswerKey, metric: Metric, max_bytes: int) -> Scores:
    submission = validate_submission(data, key, metric, max_bytes=max_bytes)
    return score(key, metric, submission.predictions)


@dataclass
class _Lookups:
    """Metrics and current answer keys already read in this unit of work, by competition.

    A poll's submissions mostly belong to one competition (they share its partition),
    so they share one read of each.
    """

    metrics: dict[uuid.UUID, Metric] = field(default_factory=dict)
    keys: dict[uuid.UUID, AnswerKey] = field(default_factory=dict)

    async def metric(self, session: AsyncSession, competition_id: uuid.UUID) -> Metric:
        """Return the competition's metric (raises why it cannot be scored)."""
        if competition_id not in self.metrics:
            self.metrics[competition_id] = await _metric_of(session, competition_id)
        return self.metrics[competition_id]

    async def key(
        self, session: AsyncSession, scorer: Scorer, competition_id: uuid.UUID
    ) -> AnswerKey:
        """Return the competition's current parsed answer key (raises when it has none)."""
        if competition_id not in self.keys:
            self.keys[competition_id] = await _current_key(session, scorer, competition_id)
        return self.keys[competition_id]


async def _prepare(
    session: AsyncSession, scorer: Scorer, job: _Job, lookups: _Lookups
) -> tuple[Metric, AnswerKey]:
    """Read what scoring a submission needs (metric, current key); raises why it cannot be."""
    metric = await lookups.metric(session, job.competition_id)
    limit = scorer.settings.max_submission_bytes
    if job.size_bytes > limit:
        raise FileInvalidError(
            [
                FileError(
                    SubmissionErrorCode.TOO_LARGE,
                    f"the file has {job.size_bytes} bytes; the limit is {limit}",
                )
            ]
        )
    return metric, await lookups.key(session, scorer, job.competition_id)


async def _judge(scorer: Scorer, job: _Job, metric: Metric, key: AnswerKey) -> Scores:
    """Read, validate and score one file in a worker thread; no session needed."""
    try:
        raw = await scorer.blobs.get_verified(job.blob_key, job.sha256)
    except BlobIntegrityError as exc:
        raise ScoringRejectedError(SubmissionErrorCode.CHECKSUM_MISMATCH, str(exc)) from None
    limit = scorer.settings.max_submission_bytes
    return await asyncio.to_thread(_validate_and_score, raw, key, metric, limit)


async def _evaluate(
    session: AsyncSession, scorer: Scorer, job: _Job, lookups: _Lookups | None = None
) -> tuple[Metric, Scores, AnswerKey]:
    """Score one submission; raises the reasons it cannot be scored."""
    metric, key = await _prepare(session, scorer, job, lookups or _Lookups())
    return metric, await _judge(scorer, job, metric, key), key


def _scored_outcome(
    scorer: Scorer, job: _Job, metric: Metric, scores: Scores, key: AnswerKey
) -> tuple[dict[str, Any], Event]:
    """Return a scored submission's row values and its `submission.scored`."""
    scored_at = _now()
    values = {
        "status": "scored",
        "metric": metric.name,
        "public_score": scores.public,
        "private_score": scores.private,
        "errors": [],
        "answer_key_sha256": key.sha256,
        "scored_at": scored_at,
    }
    event = new_event(
        SubmissionScored,
        scorer.settings.service_name,
        ScoredData(
            submission_id=job.submission_id,
            competition_id=job.competition_id,
            user_id=job.user_id,
            metric=metric.name,
            higher_is_better=metric.higher_is_better,
            public_score=scores.public,
            private_score=scores.private,
            submitted_at=job.submitted_at,
            scored_at=scored_at,
        ),
    )
    return values, event


def _rejected_outcome(
    scorer: Scorer, job: _Job, errors: list[FileError]
) -> tuple[dict[str, Any], Event]:
    """Return a rejected submission's row values and its `submission.rejected`."""
    errors = summarise_errors(errors)  # what is stored and sent stays bounded
    values = {
        "status": "rejected",
        "public_score": None,
        "private_score": None,
        "errors": [e.as_dict() for e in errors],
        "scored_at": _now(),
    }
    event = new_event(
        SubmissionRejected,
        scorer.settings.service_name,
        RejectedData(
            submission_id=job.submission_id,
            competition_id=job.competition_id,
            user_id=job.user_id,
            errors=[SubmissionError(**e.as_dict()) for e in errors],
            submitted_at=job.submitted_at,
        ),
    )
    return values, event


async def _scored(
    session: AsyncSession, scorer: Scorer, job: _Job, metric: Metric, scores: Scores, key: AnswerKey
) -> Event:
    """Record the scores of a submission; return its `submission.scored`, to be staged."""
    values, event = _scored_outcome(scorer, job, metric, scores, key)
    await repository.record_outcome(session, job.submission_id, values)
    return event


async def _rejected(
    session: AsyncSession, scorer: Scorer, job: _Job, errors: list[FileError]
) -> Event:
    """Record why a submission was rejected; return its `submission.rejected`, to be staged."""
    values, event = _rejected_outcome(scorer, job, errors)
    await repository.record_outcome(session, job.submission_id, values)
    return event


async def _emit_rejected(
    session: AsyncSession, scorer: Scorer, job: _Job, errors: list[FileError]
) -> None:
    """Record a rejection and stage its event."""
    await scorer.outbox.add(session, await _rejected(session, scorer, job, errors))


async def _outcome(
    session: AsyncSession, scorer: Scorer, job: _Job, lookups: _Lookups | None = None
) -> Event:
    """Evaluate, record the outcome and return its event; infrastructure errors propagate."""
    try:
        metric, scores, key = await _evaluate(session, scorer, job, lookups)
    except (FileInvalidError, ScoringRejectedError) as exc:
        return await _rejected(session, scorer, job, exc.errors)
    return await _scored(session, scorer, job, metric, scores, key)


async def _score_and_emit(
    session: AsyncSession, scorer: Scorer, job: _Job, lookups: _Lookups | None = None
) -> None:
    """Evaluate, then record and emit the outcome; infrastructure errors propagate."""
    await scorer.outbox.add(session, await _outcome(session, scorer, job, lookups))


async def _record_received(session: AsyncSession, data: SubmissionReceivedData) -> _Job:
    """Store a received submission as queued; return it as a scoring job."""
    job = _Job.from_event(data)
    await repository.record_received_many(session, [job.received()])
    return job


async def _settled(
    session: AsyncSession, scorer: Scorer, job: _Job, lookups: _Lookups, *, final_attempt: bool
) -> Event:
    """Return the outcome of a job; on the final attempt, not being ready is a rejection."""
    try:
        return await _outcome(session, scorer, job, lookups)
    except NotReadyError as exc:
        if not final_attempt:
            raise
        return await _rejected(session, scorer, job, [FileError(exc.code, exc.message)])


async def score_submission(
    session: AsyncSession, scorer: Scorer, data: SubmissionReceivedData, *, final_attempt: bool
) -> None:
    """Store a received submission and score it (SPEC §7.1).

    While the competition or its answer key is not known yet (they travel on
    another topic) the attempt fails and is retried; on the final attempt the
    submission is rejected with that reason instead, so it never stays queued.
    """
    job = await _record_received(session, data)
    event = await _settled(session, scorer, job, _Lookups(), final_attempt=final_attempt)
    await scorer.outbox.add(session, event)


async def _judged(
    session: AsyncSession, scorer: Scorer, jobs: Sequence[_Job], lookups: _Lookups
) -> list[tuple[Metric, Scores, AnswerKey] | BaseException]:
    """Evaluate a poll's jobs: their files are read and scored concurrently (ADR 0078).

    The session's reads (metric, current key; shared by a competition's jobs) run
    one after another, as an `AsyncSession` is not shared between tasks. Each
    job's result is in the order of `jobs`, or the exception that stopped it.
    """
    prepared: list[tuple[Metric, AnswerKey] | BaseException] = []
    for job in jobs:
        try:
            prepared.append(await _prepare(session, scorer, job, lookups))
        except (FileInvalidError, ScoringRejectedError, NotReadyError) as exc:
            prepared.append(exc)

    async def judge(job: _Job, ready: tuple[Metric, AnswerKey]) -> tuple[Metric, Scores, AnswerKey]:
        metric, key = ready
        return metric, await _judge(scorer, job, metric, key), key

    pending = [
        judge(job, ready)
        for job, ready in zip(jobs, prepared, strict=True)
        if isinstance(ready, tuple)
    ]
    scored = iter(await asyncio.gather(*pending, return_exceptions=True))
    return [next(scored) if isinstance(ready, tuple) else ready for ready in prepared]


async def score_submissions(
    session: AsyncSession,
    scorer: Scorer,
    received: Sequence[SubmissionReceived],
    *,
    final_attempt: bool = False,
) -> None:
    """Store and score a poll's received submissions in one unit of work (ADR 0063, 0078).

    Each file is scored on its own: an invalid one is rejected with its codes and
    its neighbours are scored as usual. The reads of each competition's metric and
    key, the rows and the outcome events are shared, so a burst pays one commit,
    one outbox insert and one offset commit. The files are read and scored
    concurrently in worker threads, while the outcomes are recorded and staged in
    the order the submissions arrived: the board places them in that order.
    Anything else a submission raises (a competition or key not known yet, an
    unreadable blob, a scorer bug) fails the whole unit of work: the runtime then
    applies the poll one message at a time, where each keeps its own retries and
    its final-attempt rejection (`score_submission`). Each outcome carries the
    correlation of the event its submission came in (SPEC §4).
    """
    # A redelivered submission under a new event id is scored once per unit of work.
    causes = list({event.data.submission_id: event for event in received}.values())
    jobs = [_Job.from_event(event.data) for event in causes]
    results = await _judged(session, scorer, jobs, _Lookups())
    rows, events = [], []
    for cause, job, result in zip(causes, jobs, results, strict=True):
        with bound(cause.correlation_id, str(cause.id), cause.type):
            if isinstance(result, tuple):
                values, event = _scored_outcome(scorer, job, *result)
            elif isinstance(result, (FileInvalidError, ScoringRejectedError)):
                values, event = _rejected_outcome(scorer, job, result.errors)
            elif isinstance(result, NotReadyError) and final_attempt:
                values, event = _rejected_outcome(
                    scorer, job, [FileError(result.code, result.message)]
                )
            else:
                raise result
        rows.append({**job.received(), **values})
        events.append(event)
    # Each row is written once, received and judged together.
    await repository.record_outcomes_many(session, rows)
    await scorer.outbox.add(session, *events)


async def reject_unscorable(
    session: AsyncSession, scorer: Scorer, data: SubmissionReceivedData, error: BaseException
) -> None:
    """Record `SCORING_FAILED` for a submission the scorer could not process (SPEC §7.1)."""
    job = await _record_received(session, data)
    message = (
        "the submission could not be scored because of an internal error "
        f"({type(error).__name__}); the operators were notified, please submit again later"
    )
    await _emit_rejected(session, scorer, job, [FileError(SCORING_FAILED, message)])


async def rescore_competition(session: AsyncSession, scorer: Scorer, data: RescoreData) -> int:
    """Score every submission still on the board against the current key; return how many.

    Invalidated submissions stay off the board and are not rescored. A
    submission whose file can no longer be processed is rejected with
    `SCORING_FAILED` rather than failing the whole rescore.
    """
    await _metric_of(session, data.competition_id)
    await _current_key(session, scorer, data.competition_id)  # fail early: nothing to rescore
    rows = await repository.submissions_to_rescore(session, data.competition_id)
    lookups = _Lookups()
    for row in rows:
        job = _Job.from_row(row)
        try:
            # A savepoint per submission: one broken file does not undo the others.
            async with session.begin_nested():
                await _score_and_emit(session, scorer, job, lookups)
        except Exception as exc:
            log.exception(
                "rescoring one submission failed", extra={"submission": str(job.submission_id)}
            )
            await _emit_rejected(
                session,
                scorer,
                job,
                [FileError(SCORING_FAILED, f"rescoring failed ({type(exc).__name__})")],
            )
    return len(rows)


async def invalidate_submission(session: AsyncSession, data: SubmissionInvalidatedData) -> None:
    """Mark a submission invalidated so reads show it (SPEC §5.3)."""
    found = await repository.mark_invalidated(
        session, data.submission_id, by=data.invalidated_by, at=_now()
    )
    if not found:
        log.warning(
            "invalidation of an unknown submission", extra={"submission": str(data.submission_id)}
        )


async def delete_rejected_blobs(
    session: AsyncSession, blobs: BlobStore, retention_seconds: float, batch: int = 100
) -> int:
    """Delete the files of submissions rejected over `retention_seconds` ago; return how many.

    A rejected file is never scored again, so keeping it only costs storage
    (ADR 0057). The row keeps its errors; `blob_deleted_at` records the deletion
    and keeps it out of rescoring. Deleting a missing blob succeeds, so a sweep
    that fails after some deletions is simply repeated.
    """
    now = _now()
    due = await repository.rejected_blobs_due(
        session, now - timedelta(seconds=retention_seconds), batch
    )
    for row in due:
        await blobs.delete(row.blob_key)
    if due:
        await repository.mark_blobs_deleted(session, [row.submission_id for row in due], now)
    return len(due)

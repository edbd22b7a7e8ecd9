"""Scoring use cases on real Postgres and a local blob store, no HTTP or Kafka (SPEC §7.1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from podium_contracts.codes import SubmissionErrorCode
from podium_contracts.events import AnswerKeyData, CompetitionData, SubmissionReceivedData
from podium_runtime.blobs import LocalBlobStore
from podium_runtime.outbox import Outbox, messaging_tables, staged_events
from podium_scoring import service
from podium_scoring.config import Settings
from podium_scoring.models import metadata
from podium_scoring.service import NotReadyError, Scorer
from sqlalchemy.ext.asyncio import AsyncSession

OUTBOX = messaging_tables(metadata).outbox
KEY = b"id,target\nr1,1\nr2,0\nr3,1\nr4,0\n"


@pytest.fixture
def scorer(tmp_path: Path) -> Scorer:
    """The scorer over a local blob store; its outbox only stages rows in the test's transaction."""
    settings = Settings(database_url="postgresql://unused/unused")
    return Scorer(LocalBlobStore(tmp_path / "blobs"), Outbox(OUTBOX, ""), settings)


def _competition() -> CompetitionData:
    now = datetime.now(UTC)
    return CompetitionData(
        competition_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        kind="prediction",
        title="Churn",
        visibility="public",
        status="active",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=3),
        timezone="UTC",
        metric="accuracy",
        public_fraction=0.5,
    )


async def _submission(
    scorer: Scorer, competition_id: uuid.UUID, csv: bytes
) -> SubmissionReceivedData:
    submission_id = uuid.uuid4()
    ref = await scorer.blobs.put(f"submissions/{competition_id}/{submission_id}.csv", csv)
    return SubmissionReceivedData(
        submission_id=submission_id,
        competition_id=competition_id,
        user_id=uuid.uuid4(),
        blob_key=ref.key,
        sha256=ref.sha256,
        size_bytes=ref.size,
        submitted_at=datetime.now(UTC),
    )


async def _announced(session: AsyncSession, event_type: str) -> list[dict[str, object]]:
    return [event["data"] for event in await staged_events(session, OUTBOX, event_type)]


async def _competition_with_key(session: AsyncSession, scorer: Scorer) -> uuid.UUID:
    competition = _competition()
    await service.record_competition(session, competition)
    ref = await scorer.blobs.put(f"answer-keys/{competition.competition_id}/key.csv", KEY)
    key = AnswerKeyData(
        competition_id=competition.competition_id,
        blob_key=ref.key,
        sha256=ref.sha256,
        uploaded_by=competition.owner_id,
    )
    await service.load_answer_key(session, scorer, key)
    return competition.competition_id


async def test_a_perfect_file_scores_one_on_both_boards(
    session: AsyncSession, scorer: Scorer
) -> None:
    competition_id = await _competition_with_key(session, scorer)
    submission = await _submission(scorer, competition_id, KEY)
    await service.score_submission(session, scorer, submission, final_attempt=True)
    [scored] = await _announced(session, "submission.scored")
    assert scored["submission_id"] == str(submission.submission_id)
    assert (scored["public_score"], scored["private_score"]) == (1.0, 1.0)


async def test_a_file_with_unknown_ids_is_rejected_with_the_contract_code(
    session: AsyncSession, scorer: Scorer
) -> None:
    competition_id = await _competition_with_key(session, scorer)
    broken = b"id,target\nr1,1\nr2,0\nr3,1\nzz,0\n"
    submission = await _submission(scorer, competition_id, broken)
    await service.score_submission(session, scorer, submission, final_attempt=True)
    [rejected] = await _announced(session, "submission.rejected")
    codes = {error["code"] for error in rejected["errors"]}  # type: ignore[attr-defined]
    assert SubmissionErrorCode.UNKNOWN_IDS in codes
    assert await _announced(session, "submission.scored") == []


async def test_without_an_answer_key_scoring_waits_then_rejects_on_the_last_attempt(
    session: AsyncSession, scorer: Scorer
) -> None:
    competition = _competition()
    await service.record_competition(session, competition)
    submission = await _submission(scorer, competition.competition_id, KEY)
    with pytest.raises(NotReadyError):
        async with session.begin_nested():
            await service.score_submission(session, scorer, submission, final_attempt=False)
    await service.score_submission(session, scorer, submission, final_attempt=True)
    [rejected] = await _announced(session, "submission.rejected")
    codes = [error["code"] for error in rejected["errors"]]  # type: ignore[attr-defined]
    assert codes == [SubmissionErrorCode.ANSWER_KEY_MISSING]

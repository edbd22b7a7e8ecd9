"""A poll of submissions scored in one unit of work, through the runtime's dispatcher (ADR 0063).

The events go through the same `EventConsumer` and router as in production, on
real Postgres inside the test's transaction, so the inbox, the batch path and
the handler's wiring are what is under test; the broker is left out.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from podium_contracts.codes import SubmissionErrorCode
from podium_contracts.events import (
    AnswerKeyData,
    CompetitionData,
    SubmissionReceived,
    SubmissionReceivedData,
)
from podium_runtime.blobs import LocalBlobStore
from podium_runtime.broker import EventConsumer
from podium_runtime.outbox import Outbox, messaging_tables, new_event, staged_events
from podium_runtime.rollback import RolledBackDatabase, deliver
from podium_runtime.routing import include_router
from podium_scoring import consumers, service
from podium_scoring.config import Settings
from podium_scoring.models import metadata, submissions
from podium_scoring.service import Scorer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

SETTINGS = Settings(database_url="postgresql://unused/unused")
TABLES = messaging_tables(metadata)
KEY = b"id,target\nr1,1\nr2,0\nr3,1\nr4,0\n"


@pytest.fixture
def scorer(tmp_path: Path) -> Scorer:
    """The scorer over a local blob store, staging its events in the test's transaction."""
    return Scorer(LocalBlobStore(tmp_path / "blobs"), Outbox(TABLES.outbox, ""), SETTINGS)


@pytest.fixture
def dispatcher(database: RolledBackDatabase, scorer: Scorer) -> EventConsumer:
    """The runtime's consumer with scoring's router, on the test's transaction."""
    consumer = EventConsumer("scoring", database, TABLES.inbox, SETTINGS)
    provided = {"scorer": scorer, "database": database, "settings": SETTINGS}
    include_router(consumer, consumers.router, SETTINGS, provided)
    return consumer


async def _competition(session: AsyncSession, scorer: Scorer) -> uuid.UUID:
    now = datetime.now(UTC)
    competition = CompetitionData(
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
    await service.record_competition(session, competition)
    ref = await scorer.blobs.put(f"answer-keys/{competition.competition_id}/key.csv", KEY)
    await service.load_answer_key(
        session,
        scorer,
        AnswerKeyData(
            competition_id=competition.competition_id,
            blob_key=ref.key,
            sha256=ref.sha256,
            uploaded_by=competition.owner_id,
        ),
    )
    return competition.competition_id


async def _received(scorer: Scorer, competition_id: uuid.UUID, csv: bytes) -> SubmissionReceived:
    submission_id = uuid.uuid4()
    ref = await scorer.blobs.put(f"submissions/{competition_id}/{submission_id}.csv", csv)
    data = SubmissionReceivedData(
        submission_id=submission_id,
        competition_id=competition_id,
        user_id=uuid.uuid4(),
        blob_key=ref.key,
        sha256=ref.sha256,
        size_bytes=ref.size,
        submitted_at=datetime.now(UTC),
    )
    event = new_event(SubmissionReceived, "gateway", data)
    assert isinstance(event, SubmissionReceived)
    return event


async def _outcomes(session: AsyncSession) -> dict[str, list[dict[str, Any]]]:
    """Return the staged outcome envelopes by submission id."""
    outbox = TABLES.outbox
    found: dict[str, list[dict[str, Any]]] = {}
    for envelope in await staged_events(session, outbox):
        found.setdefault(envelope["data"]["submission_id"], []).append(envelope)
    return found


async def test_an_invalid_file_in_the_middle_of_a_poll_is_rejected_and_its_neighbours_scored(
    dispatcher: EventConsumer, session: AsyncSession, scorer: Scorer
) -> None:
    competition_id = await _competition(session, scorer)
    first = await _received(scorer, competition_id, KEY)
    broken = await _received(scorer, competition_id, b"id,target\nr1,1\nr2,0\nr3,1\nzz,0\n")
    last = await _received(scorer, competition_id, b"id,target\nr1,0\nr2,1\nr3,0\nr4,1\n")

    await deliver(dispatcher, first, broken, last)

    outcomes = await _outcomes(session)
    assert set(outcomes) == {str(e.data.submission_id) for e in (first, broken, last)}
    for event in (first, broken, last):
        [outcome] = outcomes[str(event.data.submission_id)]  # one each: nothing lost or doubled
        assert outcome["causation_id"] == str(event.id)
        assert outcome["correlation_id"] == event.correlation_id
    assert outcomes[str(first.data.submission_id)][0]["type"] == "submission.scored"
    assert outcomes[str(last.data.submission_id)][0]["type"] == "submission.scored"
    # Each file is scored on its own contents: all right, then all wrong.
    scores = [
        (found["public_score"], found["private_score"])
        for found in (outcomes[str(e.data.submission_id)][0]["data"] for e in (first, last))
    ]
    assert scores == [(1.0, 1.0), (0.0, 0.0)]
    rejected = outcomes[str(broken.data.submission_id)][0]
    assert rejected["type"] == "submission.rejected"
    codes = {error["code"] for error in rejected["data"]["errors"]}
    assert SubmissionErrorCode.UNKNOWN_IDS in codes
    statuses = dict(
        (await session.execute(select(submissions.c.submission_id, submissions.c.status))).all()
    )
    assert statuses == {
        first.data.submission_id: "scored",
        broken.data.submission_id: "rejected",
        last.data.submission_id: "scored",
    }
    # The rows hold what the events tell: the rejection's errors, the scores and metric.
    stored = {
        row.submission_id: row
        for row in await session.execute(
            select(
                submissions.c.submission_id,
                submissions.c.errors,
                submissions.c.metric,
                submissions.c.public_score,
            )
        )
    }
    assert stored[broken.data.submission_id].errors == rejected["data"]["errors"]
    assert stored[first.data.submission_id].errors == []
    assert [stored[e.data.submission_id].public_score for e in (first, last)] == [1.0, 0.0]
    assert stored[first.data.submission_id].metric == "accuracy"


async def test_a_redelivered_poll_is_scored_once(
    dispatcher: EventConsumer, session: AsyncSession, scorer: Scorer
) -> None:
    competition_id = await _competition(session, scorer)
    events = [await _received(scorer, competition_id, KEY) for _ in range(3)]

    await deliver(dispatcher, *events)
    await deliver(dispatcher, events[1], *events)  # a redelivery, with a copy inside the poll

    outcomes = await _outcomes(session)
    assert sorted(len(found) for found in outcomes.values()) == [1, 1, 1]
    inbox = await session.scalar(select(func.count()).select_from(TABLES.inbox))
    assert inbox == 3


async def test_a_poll_without_an_answer_key_is_retried_one_message_at_a_time(
    dispatcher: EventConsumer, session: AsyncSession, scorer: Scorer
) -> None:
    competition_id = await _competition(session, scorer)
    waiting = await _received(scorer, uuid.uuid4(), KEY)  # its competition is not known yet
    neighbour = await _received(scorer, competition_id, KEY)

    await deliver(dispatcher, neighbour, waiting)

    outcomes = await _outcomes(session)
    assert outcomes[str(neighbour.data.submission_id)][0]["type"] == "submission.scored"
    # After its retries the waiting one is rejected with the reason, never left queued.
    [rejected] = outcomes[str(waiting.data.submission_id)]
    codes = [error["code"] for error in rejected["data"]["errors"]]
    assert codes == [SubmissionErrorCode.COMPETITION_UNKNOWN]


class _HeldFirstRead(LocalBlobStore):
    """A local store whose first read of one file waits until every other file was read.

    Read concurrently, the held file is the last one to finish and `overlapped`
    becomes true. Read one after another, the held read gives up after a few
    seconds with an error, and later reads of it are not held, so the runtime's
    one-by-one pass finishes quickly with `overlapped` still false.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.held: str | None = None
        self.others: set[str] = set()
        self.read: set[str] = set()
        self.all_others_read = asyncio.Event()
        self.overlapped = False
        self._tried = False

    async def get(self, key: str) -> bytes:
        data = await super().get(key)
        if key == self.held and not self._tried:
            self._tried = True
            try:
                await asyncio.wait_for(self.all_others_read.wait(), timeout=3)
            except TimeoutError:
                raise RuntimeError("the poll's files were read one after another") from None
            self.overlapped = True
        elif key in self.others:
            self.read.add(key)
            if self.read == self.others:
                self.all_others_read.set()
        return data


async def test_a_polls_files_are_scored_concurrently_and_their_outcomes_staged_in_order(
    database: RolledBackDatabase, session: AsyncSession, tmp_path: Path
) -> None:
    store = _HeldFirstRead(tmp_path / "held")
    scorer = Scorer(store, Outbox(TABLES.outbox, ""), SETTINGS)
    consumer = EventConsumer("scoring", database, TABLES.inbox, SETTINGS)
    provided = {"scorer": scorer, "database": database, "settings": SETTINGS}
    include_router(consumer, consumers.router, SETTINGS, provided)
    competition_id = await _competition(session, scorer)
    files = [KEY, b"id,target\nr1,1\nr2,1\nr3,zz\nr4,0\n", b"id,target\nr1,0\nr2,1\nr3,0\nr4,1\n"]
    events = [await _received(scorer, competition_id, csv) for csv in files]
    store.held = events[0].data.blob_key
    store.others = {event.data.blob_key for event in events[1:]}

    await deliver(consumer, *events)

    assert store.overlapped
    # The first file finished last, yet the outcomes keep the order of the poll, which is
    # the order the board applies them in; the invalid one in the middle keeps its place.
    outbox = TABLES.outbox
    staged = await staged_events(session, outbox)
    assert [(e["data"]["submission_id"], e["type"]) for e in staged] == [
        (str(events[0].data.submission_id), "submission.scored"),
        (str(events[1].data.submission_id), "submission.rejected"),
        (str(events[2].data.submission_id), "submission.scored"),
    ]
    assert [e["data"].get("public_score") for e in staged] == [1.0, None, 0.0]

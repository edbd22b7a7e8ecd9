"""Test helpers: drive the scoring service as the gateway and competitions services would."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from podium_contracts.events import (
    AnswerKeyData,
    AnswerKeyUploaded,
    CompetitionCreated,
    CompetitionData,
    SubmissionReceived,
    SubmissionReceivedData,
)
from podium_contracts.topics import SCORES, SUBMISSIONS
from podium_runtime.blobs import LocalBlobStore
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import eventually
from podium_scoring.config import Settings

#: Small enough that a test can exceed it cheaply.
MAX_SUBMISSION_BYTES = 300_000


@dataclass
class TopicLog:
    """Every record seen on the scores topic and the submissions dead-letter topic."""

    records: list[Any] = field(default_factory=list)

    @staticmethod
    def topics(settings: ServiceSettings) -> list[str]:
        """Return the full names of the topics the log follows."""
        return [
            settings.kafka_topic_prefix + SCORES.name,
            settings.kafka_topic_prefix + SUBMISSIONS.dead_letter,
        ]

    def events(self, event_type: str, submission_id: uuid.UUID) -> list[dict[str, Any]]:
        """Return the `event_type` events about one submission, oldest first."""
        found = []
        for record in self.records:
            try:
                body = json.loads(record.value)
            except ValueError:
                continue
            if body.get("type") == event_type and body["data"].get("submission_id") == str(
                submission_id
            ):
                found.append(body)
        return found

    def dead_letters(self, topic: str, event_id: uuid.UUID) -> list[Any]:
        """Return dead-lettered copies of one event."""
        return [
            r
            for r in self.records
            if r.topic == topic and json.loads(r.value).get("id") == str(event_id)
        ]


@dataclass
class Scoring:
    """Drives the scoring service as the gateway and competitions services would."""

    http: httpx.AsyncClient
    producer: ServiceRuntime
    blobs: LocalBlobStore
    log: TopicLog
    settings: Settings

    async def create_competition(
        self, metric: str = "auc_roc", public_fraction: float = 0.3, kind: str = "prediction"
    ) -> uuid.UUID:
        """Publish `competition.created` and return the new id."""
        competition_id = uuid.uuid4()
        now = datetime.now(UTC)
        await self.producer.publisher.publish(
            new_event(
                CompetitionCreated,
                "competitions",
                CompetitionData(
                    competition_id=competition_id,
                    owner_id=uuid.uuid4(),
                    kind=kind,  # type: ignore[arg-type]
                    title="Churn",
                    visibility="public",
                    status="active",
                    starts_at=now,
                    ends_at=now + timedelta(days=30),
                    timezone="UTC",
                    metric=metric,  # type: ignore[arg-type]
                    daily_submission_limit=5,
                    public_fraction=public_fraction,
                ),
            )
        )

        async def known() -> bool:
            response = await self.http.get(f"/internal/competitions/{competition_id}")
            return response.status_code == 200

        # Competitions and submissions travel on different topics: wait until it is known.
        await eventually(known, timeout=30, message="competition known to scoring")
        return competition_id

    async def upload_key(self, competition_id: uuid.UUID, csv: bytes) -> dict[str, Any]:
        """Store an answer key, publish `competition.answer_key_uploaded`, await it loaded."""
        ref = await self.blobs.put(f"answer-keys/{competition_id}/{uuid.uuid4()}.csv", csv)
        await self.producer.publisher.publish(
            new_event(
                AnswerKeyUploaded,
                "competitions",
                AnswerKeyData(
                    competition_id=competition_id,
                    blob_key=ref.key,
                    sha256=ref.sha256,
                    uploaded_by=uuid.uuid4(),
                ),
            )
        )

        async def loaded() -> dict[str, Any] | None:
            response = await self.http.get(f"/internal/competitions/{competition_id}/answer-key")
            body = response.json()
            if response.status_code == 200 and body["sha256"] == ref.sha256:
                return body  # type: ignore[no-any-return]
            return None

        return await eventually(loaded, timeout=30, message="answer key loaded")

    async def submit(
        self,
        competition_id: uuid.UUID,
        csv: bytes,
        *,
        user_id: uuid.UUID | None = None,
        sha256: str | None = None,
        size_bytes: int | None = None,
        store: bool = True,
        publish: bool = True,
    ) -> SubmissionReceived:
        """Store a prediction file and publish `submission.received` as the gateway does.

        With `publish=False` the event is only returned, for the caller to publish
        with others at once.
        """
        submission_id = uuid.uuid4()
        key = f"submissions/{competition_id}/{submission_id}.csv"
        if store:
            await self.blobs.put(key, csv)
        event = new_event(
            SubmissionReceived,
            "gateway",
            SubmissionReceivedData(
                submission_id=submission_id,
                competition_id=competition_id,
                user_id=user_id or uuid.uuid4(),
                blob_key=key,
                sha256=sha256 or hashlib.sha256(csv).hexdigest(),
                size_bytes=len(csv) if size_bytes is None else size_bytes,
                submitted_at=datetime.now(UTC),
            ),
        )
        assert isinstance(event, SubmissionReceived)
        if publish:
            await self.producer.publisher.publish(event)
        return event

    async def outcome(
        self, submission_id: uuid.UUID, count: int = 1, timeout: float = 30
    ) -> dict[str, Any]:
        """Await the `count`-th scored or rejected event of a submission and return it."""

        async def arrived() -> dict[str, Any] | None:
            events = sorted(
                self.log.events("submission.scored", submission_id)
                + self.log.events("submission.rejected", submission_id),
                key=lambda e: e["occurred_at"],
            )
            return events[count - 1] if len(events) >= count else None

        return await eventually(arrived, timeout=timeout, message="submission outcome")

    async def read(self, submission_id: uuid.UUID) -> dict[str, Any]:
        """Return the submission through the internal read API."""
        response = await self.http.get(f"/internal/submissions/{submission_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

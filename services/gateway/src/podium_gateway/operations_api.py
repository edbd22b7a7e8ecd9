"""Operations (SPEC §10.5): dead letters, projection rebuilds and background jobs.

Dead-letter topics are read from the beginning without joining a consumer
group; what happened to each record (replayed, discarded) is the newest
audit entry about it (ADR 0037), since a Kafka record cannot be changed.
Replays and discards run as background jobs (`GET /v1/admin/jobs/{id}`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from podium_contracts.topics import ALL_TOPICS
from podium_runtime.audit import AuditEntry
from podium_runtime.deadletters import DeadLetteredRecord, DeadLetterReader, topic_named
from podium_runtime.jobs import Job, JobProgress
from podium_runtime.problems import Problem
from podium_runtime.problems import problem_responses as problems
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import AdminDep, CurrentUser
from podium_gateway.clients import HttpDep, RuntimeDep, SettingsDep, audit, call, relay
from podium_gateway.clients.audit import AuditorDep
from podium_gateway.clients.services import service_url
from podium_gateway.config import Settings
from podium_gateway.jobs import JobsDep

router = APIRouter(tags=["admin"])

DeadLetterStatus = Literal["pending", "replayed", "discarded"]
_DECISIONS: dict[str, DeadLetterStatus] = {
    "dead_letter.replayed": "replayed",
    "dead_letter.discarded": "discarded",
}


class DeadLetterDocument(BaseModel):
    """One dead-lettered event: where it sits in `<topic>.dlq` and why it is there."""

    topic: str = Field(description="The original topic (without the `.dlq` suffix)")
    partition: int
    offset: int = Field(description="Offset in the dead-letter topic")
    event_type: str | None
    event_id: str | None
    error_code: str | None
    error: str | None
    consumer: str | None = Field(description="The consumer group that gave up")
    attempts: int
    failed_at: datetime | None = Field(description="When the consumer gave up on this delivery")
    first_failed_at: datetime | None = Field(
        description="The earliest dead-lettering of the same event (replays can fail again)"
    )
    status: DeadLetterStatus
    decided_at: datetime | None = None
    decided_by: uuid.UUID | None = None
    reason: str | None = Field(default=None, description="Why it was discarded")


class DeadLetterPage(BaseModel):
    """Dead letters, oldest first per topic and partition."""

    items: list[DeadLetterDocument]


class DeadLetterDetail(DeadLetterDocument):
    """One dead letter with the event itself."""

    key: str | None
    headers: dict[str, str]
    event: Any = Field(description="The event as JSON, or the raw body as text")


class Position(BaseModel):
    """A record of a dead-letter topic."""

    model_config = ConfigDict(extra="forbid")

    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class DeadLetterFilter(BaseModel):
    """Which pending dead letters of the topic to act on (every given field must match)."""

    model_config = ConfigDict(extra="forbid")

    event_type: str | None = Field(default=None, max_length=255)
    error_code: str | None = Field(default=None, max_length=255)
    consumer: str | None = Field(default=None, max_length=100)


class ReplayRequest(BaseModel):
    """Replay dead letters of one topic: these positions, or all pending ones matching a filter."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"topic": "podium.joins", "filter": {"event_type": "join.requested"}}]
        },
    )

    topic: str = Field(max_length=255)
    offsets: list[Position] | None = Field(default=None, max_length=10_000)
    filter: DeadLetterFilter | None = None


class DiscardRequest(ReplayRequest):
    """Discard dead letters (they stay in Kafka, marked discarded, never replayed)."""

    reason: str = Field(min_length=1, max_length=500)


def _reader(settings: Settings) -> DeadLetterReader:
    return DeadLetterReader(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix)


def _check_topic(name: str | None) -> None:
    if name is not None and topic_named(name) is None:
        raise Problem(404, "UNKNOWN_TOPIC", f"No topic is called {name!r}.")


async def _documents(
    http: HttpDep, settings: Settings, records: list[DeadLetteredRecord]
) -> list[tuple[DeadLetteredRecord, DeadLetterDocument]]:
    """Attach each record's status (from the audit log) and its event's first failure."""
    decided = await audit.latest_by_target(
        http, service_url(settings, "identity"), "dead_letter", [r.target_id for r in records]
    )
    first: dict[str, datetime] = {}
    for record in records:
        when = record.failed_at
        if (
            record.event_id
            and when
            and (record.event_id not in first or when < first[record.event_id])
        ):
            first[record.event_id] = when
    documents = []
    for record in records:
        entry: AuditEntry | None = decided.get(record.target_id)
        status = _DECISIONS.get(entry.action, "pending") if entry else "pending"
        documents.append(
            (
                record,
                DeadLetterDocument(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    event_type=record.event_type,
                    event_id=record.event_id,
                    error_code=record.error_code,
                    error=record.error,
                    consumer=record.consumer,
                    attempts=record.attempts,
                    failed_at=record.failed_at,
                    first_failed_at=first.get(record.event_id or "", record.failed_at),
                    status=status,
                    decided_at=entry.at if entry and status != "pending" else None,
                    decided_by=entry.actor_id if entry and status != "pending" else None,
                    reason=(entry.after or {}).get("reason") if entry else None,
                ),
            )
        )
    return documents


async def _read(
    http: HttpDep, settings: Settings, topic: str | None
) -> list[tuple[DeadLetteredRecord, DeadLetterDocument]]:
    topics = [t for t in ALL_TOPICS if topic is None or t.name == topic]
    try:
        records = await _reader(settings).read(topics)
    except Exception as exc:
        raise Problem(
            503, "SERVICE_UNAVAILABLE", "The broker cannot be read; try again.",
            headers={"Retry-After": "1"},
        ) from exc  # fmt: skip
    return await _documents(http, settings, records)


@router.get(
    "/v1/admin/dead-letters",
    summary="List dead-lettered events",
    response_model=DeadLetterPage,
    responses=problems(401, 403, 404, 503),
)
async def list_dead_letters(
    admin: AdminDep,
    http: HttpDep,
    settings: SettingsDep,
    topic: str | None = Query(default=None, max_length=255, examples=["podium.joins"]),
    type: str | None = Query(default=None, max_length=255, description="Event type"),
    status: DeadLetterStatus | None = None,
    consumer: str | None = Query(default=None, max_length=100),
) -> DeadLetterPage:
    """Every topic's dead letters (or one topic's) with the failure and what was decided."""
    _check_topic(topic)
    documents = [
        d
        for _, d in await _read(http, settings, topic)
        if (type is None or d.event_type == type)
        and (status is None or d.status == status)
        and (consumer is None or d.consumer == consumer)
    ]
    return DeadLetterPage(items=documents)


@router.get(
    "/v1/admin/dead-letters/{topic}/{partition}/{offset}",
    summary="Show one dead-lettered event",
    response_model=DeadLetterDetail,
    responses=problems(401, 403, 404, 503),
)
async def show_dead_letter(
    topic: str, partition: int, offset: int, admin: AdminDep, http: HttpDep, settings: SettingsDep
) -> DeadLetterDetail:
    """The event, its headers and the failure."""
    _check_topic(topic)
    for record, document in await _read(http, settings, topic):
        if record.partition == partition and record.offset == offset:
            event: Any = record.envelope() or record.value.decode(errors="replace")
            return DeadLetterDetail(
                **document.model_dump(), key=record.key, headers=record.headers, event=event
            )
    raise Problem(404, "NOT_FOUND", "No such dead letter.")


def _selected(
    documents: list[tuple[DeadLetteredRecord, DeadLetterDocument]], body: ReplayRequest
) -> list[DeadLetteredRecord]:
    """Return the pending records the request addresses."""
    wanted = {(p.partition, p.offset) for p in body.offsets} if body.offsets is not None else None
    chosen = []
    for record, document in documents:
        if document.status != "pending":
            continue
        if wanted is not None and (record.partition, record.offset) not in wanted:
            continue
        rule = body.filter
        if rule is not None and (
            (rule.event_type is not None and document.event_type != rule.event_type)
            or (rule.error_code is not None and document.error_code != rule.error_code)
            or (rule.consumer is not None and document.consumer != rule.consumer)
        ):
            continue
        chosen.append(record)
    return chosen


def _summary(record: DeadLetteredRecord) -> dict[str, Any]:
    return {
        "event_id": record.event_id,
        "event_type": record.event_type,
        "consumer": record.consumer,
        "error_code": record.error_code,
    }


@router.post(
    "/v1/admin/dead-letters/replay",
    summary="Replay dead-lettered events to their original topic",
    status_code=202,
    response_model=Job,
    responses=problems(401, 403, 404, 422, 503),
)
async def replay_dead_letters(
    body: ReplayRequest,
    admin: AdminDep,
    http: HttpDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    jobs: JobsDep,
) -> Job:
    """Pending dead letters (given positions, or all matching `filter`) go back to the topic.

    Safe to repeat: consumers skip events their inbox has seen, so an event is
    applied at most once per consumer group. Each replay is audited.
    """
    _check_topic(body.topic)
    records = _selected(await _read(http, settings, body.topic), body)
    reader = _reader(settings)

    async def work(progress: JobProgress) -> dict[str, Any]:
        await progress.total(len(records))
        for record in records:
            await reader.replay(record, runtime.publisher.send)
            await _record(http, settings, admin, "dead_letter.replayed", record, _summary(record))
            await progress.advance()
        return {"replayed": [r.target_id for r in records]}

    return await jobs.launch("dead_letters.replay", work)


@router.post(
    "/v1/admin/dead-letters/discard",
    summary="Discard dead-lettered events with a reason",
    status_code=202,
    response_model=Job,
    responses=problems(401, 403, 404, 422, 503),
)
async def discard_dead_letters(
    body: DiscardRequest, admin: AdminDep, http: HttpDep, settings: SettingsDep, jobs: JobsDep
) -> Job:
    """Mark pending dead letters discarded (audited with the reason); they are never replayed."""
    _check_topic(body.topic)
    records = _selected(await _read(http, settings, body.topic), body)

    async def work(progress: JobProgress) -> dict[str, Any]:
        await progress.total(len(records))
        for record in records:
            after = _summary(record) | {"reason": body.reason}
            await _record(http, settings, admin, "dead_letter.discarded", record, after)
            await progress.advance()
        return {"discarded": [r.target_id for r in records]}

    return await jobs.launch("dead_letters.discard", work)


async def _record(
    http: HttpDep,
    settings: Settings,
    admin: CurrentUser,
    action: str,
    record: DeadLetteredRecord,
    after: dict[str, Any],
) -> None:
    await audit.record(
        http,
        service_url(settings, "identity"),
        admin,
        action,
        "dead_letter",
        record.target_id,
        after=after,
    )


@router.get(
    "/v1/admin/jobs/{job_id}",
    summary="Follow a background job",
    response_model=Job,
    responses=problems(401, 403, 404),
)
async def show_job(job_id: uuid.UUID, admin: AdminDep, jobs: JobsDep) -> Job:
    """Status, `done`/`total` and the estimated seconds left."""
    job = await jobs.get(job_id)
    if job is None:
        raise Problem(404, "NOT_FOUND", "No such job.")
    return job


# --- projection rebuilds -------------------------------------------------------------

RebuildTarget = Literal["leaderboards", "activity_boards", "statements_flat"]


class RebuildRequest(BaseModel):
    """Rebuild a projection from its source of truth, for one competition or all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"target": "leaderboards"}]},
    )

    target: RebuildTarget = Field(
        description=(
            "`leaderboards`: prediction boards from the scores; `activity_boards`: from the "
            "points ledger; `statements_flat`: ingest's flattened statements from the raw ones"
        )
    )
    competition_id: uuid.UUID | None = Field(
        default=None, description="Only this competition's boards (board targets only)"
    )


@router.post(
    "/v1/admin/rebuilds",
    summary="Rebuild a projection",
    status_code=202,
    response_model=Job,
    responses=problems(401, 403, 422, 503),
)
async def start_rebuild(
    body: RebuildRequest,
    admin: AdminDep,
    http: HttpDep,
    settings: SettingsDep,
    auditor: AuditorDep,
) -> Response:
    """Runs in the owning service as a background job, safe while it consumes; the result
    equals the incremental build. Follow it with `GET /v1/admin/rebuilds/{job_id}`."""
    if body.target == "statements_flat":
        if body.competition_id is not None:
            raise Problem(
                422, "VALIDATION_ERROR", "statements_flat is rebuilt whole (no competition_id)."
            )
        url, service = f"{service_url(settings, 'ingest')}/internal/rebuilds", "ingest"
    else:
        url, service = (
            f"{service_url(settings, 'competitions')}/internal/v1/rebuilds",
            "competitions",
        )
    answer = await call(
        http, "POST", url, service=service, json=body.model_dump(mode="json", exclude_none=True)
    )
    if answer.status_code == 202:
        target_id = body.target + (f":{body.competition_id}" if body.competition_id else "")
        after = {"job_id": answer.json()["id"]}
        await auditor(admin, "projection.rebuild_requested", "projection", target_id, after=after)
    return relay(answer)


@router.get(
    "/v1/admin/rebuilds/{job_id}",
    summary="Follow a rebuild",
    response_model=Job,
    responses=problems(401, 403, 404),
)
async def show_rebuild(job_id: uuid.UUID, admin: AdminDep, jobs: JobsDep) -> Job:
    """`status` (queued, running, succeeded, failed), `done`/`total`, `eta_seconds`."""
    return await show_job(job_id, admin, jobs)

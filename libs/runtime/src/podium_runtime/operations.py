"""Operator endpoints every service with a database serves under `/internal/ops` (SPEC §10.5).

The gateway's `/v1/admin/*` routes gather these from each service:

- `GET /internal/ops/etl`: consumer freshness (last event applied, events in
  the last hour, lag per topic, plus the service's own detail, e.g. ingest's
  last stored statement);
- `GET /internal/ops/summary`: row counts of the service's tables;
- `GET /internal/ops/queries`, `POST /internal/ops/queries/{name}`: the
  service's prebuilt read-only queries (`podium_runtime.queries`);
- `POST /internal/ops/retention`: purge sent outbox rows and old inbox ids now;
- `GET /internal/ops/personal-data/{user_id}`: what the service holds about one
  user, for the personal-data export (`podium_runtime.personal_data`).

Retention also runs in the background every `retention_interval_seconds`:
sent outbox rows older than `retention_outbox_sent_days` and inbox ids older
than `retention_inbox_days` are deleted. An inbox id must outlive any
redelivery of its event, so its age limit is far above the time a message
can spend in Kafka before it is consumed (topic retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select, text

from podium_runtime.deps import RuntimeDep
from podium_runtime.personal_data import PersonalDataExport
from podium_runtime.problems import Problem
from podium_runtime.queries import QueryDescription, QueryResult
from podium_runtime.runtime import ServiceRuntime

log = logging.getLogger(__name__)

RETENTION_PURGED = Counter(
    "podium_retention_purged_total", "Rows deleted by the retention job", ["table"]
)
RETENTION_LAST_RUN = Gauge(
    "podium_retention_last_run_timestamp_seconds", "When the retention job last finished"
)

router = APIRouter(prefix="/internal/ops", tags=["internal"])


class TopicLag(BaseModel):
    """Messages behind the end of one topic, summed over this replica's partitions."""

    topic: str
    lag: int


class Freshness(BaseModel):
    """How far one consumer group has got."""

    service: str
    consumer_group: str
    last_event_at: datetime | None
    last_event_type: str | None
    events_last_hour: int
    lag: list[TopicLag] = Field(description="This replica's assigned partitions only")
    details: dict[str, Any] = Field(default_factory=dict)


class TableCount(BaseModel):
    """Rows of one table."""

    table: str
    rows: int


class Summary(BaseModel):
    """Row counts of a service's tables."""

    service: str
    tables: list[TableCount]


class RetentionRequest(BaseModel):
    """Override the configured ages for one run."""

    model_config = ConfigDict(extra="forbid")

    outbox_sent_days: float | None = Field(default=None, ge=0)
    inbox_days: float | None = Field(default=None, ge=0)


class RetentionResult(BaseModel):
    """Rows deleted by one retention run."""

    service: str
    outbox_sent: int
    inbox: int


class QueryRun(BaseModel):
    """The parameters of a prebuilt query; there is deliberately no way to send SQL."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)


async def freshness(runtime: ServiceRuntime) -> Freshness:
    """Return the service's consumer freshness."""
    consumer = runtime.consumer
    assert consumer is not None and runtime.database is not None
    inbox = consumer.inbox
    since = datetime.now(UTC) - timedelta(hours=1)
    async with runtime.database.session() as session:
        last = (
            await session.execute(
                select(inbox.c.processed_at, inbox.c.event_type)
                .where(inbox.c.consumer == consumer.service)
                .order_by(inbox.c.processed_at.desc())
                .limit(1)
            )
        ).first()
        recent = await session.scalar(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.consumer == consumer.service, inbox.c.processed_at >= since)
        )
        details = await runtime.etl_details(session) if runtime.etl_details else {}
    lags: dict[str, int] = {}
    for subscriber in consumer.subscribers:
        kafka = getattr(subscriber, "consumer", None)
        if kafka is None:
            continue
        for tp in kafka.assignment():
            highwater = kafka.highwater(tp)
            if highwater is None:
                continue
            behind = max(highwater - await kafka.position(tp), 0)
            topic = tp.topic.removeprefix(runtime.settings.kafka_topic_prefix)
            lags[topic] = lags.get(topic, 0) + behind
    return Freshness(
        service=runtime.settings.service_name,
        consumer_group=consumer.service,
        last_event_at=last.processed_at if last else None,
        last_event_type=last.event_type if last else None,
        events_last_hour=int(recent or 0),
        lag=[TopicLag(topic=t, lag=n) for t, n in sorted(lags.items())],
        details=details,
    )


async def summary(runtime: ServiceRuntime) -> Summary:
    """Return the row count of every table of the service."""
    assert runtime.metadata is not None and runtime.database is not None
    counts = []
    async with runtime.database.session() as session:
        await session.execute(text("SET TRANSACTION READ ONLY"))
        for table in sorted(runtime.metadata.sorted_tables, key=lambda t: t.name):
            rows = await session.scalar(select(func.count()).select_from(table))
            counts.append(TableCount(table=table.name, rows=int(rows or 0)))
    return Summary(service=runtime.settings.service_name, tables=counts)


async def purge(
    runtime: ServiceRuntime, outbox_sent_days: float, inbox_days: float
) -> RetentionResult:
    """Delete sent outbox rows and inbox ids older than the given ages; count them."""
    assert runtime.relay is not None and runtime.consumer is not None
    outbox, inbox = runtime.relay.table, runtime.consumer.inbox
    now = datetime.now(UTC)
    async with runtime.db.session() as session:
        sent = await session.execute(
            delete(outbox).where(
                outbox.c.sent_at.is_not(None),
                outbox.c.sent_at < now - timedelta(days=outbox_sent_days),
            )
        )
        seen = await session.execute(
            delete(inbox).where(inbox.c.processed_at < now - timedelta(days=inbox_days))
        )
    result = RetentionResult(
        service=runtime.settings.service_name,
        outbox_sent=int(sent.rowcount or 0),  # type: ignore[attr-defined]
        inbox=int(seen.rowcount or 0),  # type: ignore[attr-defined]
    )
    RETENTION_PURGED.labels("outbox").inc(result.outbox_sent)
    RETENTION_PURGED.labels("processed_events").inc(result.inbox)
    RETENTION_LAST_RUN.set(time.time())
    if result.outbox_sent or result.inbox:
        log.info("retention purged rows", extra=result.model_dump())
    return result


def retention_loop(runtime: ServiceRuntime) -> Any:
    """Return the background task purging on the configured interval (0 disables it)."""
    settings = runtime.settings

    async def retention() -> None:
        interval = settings.retention_interval_seconds
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await purge(
                    runtime, settings.retention_outbox_sent_days, settings.retention_inbox_days
                )

    return retention


@router.get("/etl", response_model=Freshness)
async def etl(runtime: RuntimeDep) -> Freshness:
    """Consumer freshness of this service; 404 `NO_CONSUMER` for a service without one."""
    if runtime.consumer is None or not runtime.consumer.handled_types:
        raise Problem(404, "NO_CONSUMER", "This service consumes no events.")
    return await freshness(runtime)


@router.get("/summary", response_model=Summary)
async def counts(runtime: RuntimeDep) -> Summary:
    """Row counts of this service's tables."""
    return await summary(runtime)


@router.get("/queries", response_model=list[QueryDescription])
async def catalogue(runtime: RuntimeDep) -> list[QueryDescription]:
    """This service's prebuilt queries."""
    return runtime.queries.describe()


@router.post("/queries/{name}", response_model=QueryResult)
async def run_query(name: str, body: QueryRun, runtime: RuntimeDep) -> QueryResult:
    """Run one prebuilt query by name, read-only, with a statement timeout."""
    settings = runtime.settings
    return await runtime.queries.run(
        runtime.db, name, body.params, timeout_ms=settings.query_timeout_ms
    )


@router.post("/retention", response_model=RetentionResult)
async def retention_now(body: RetentionRequest, runtime: RuntimeDep) -> RetentionResult:
    """Purge now, with the configured ages unless overridden."""
    settings = runtime.settings
    return await purge(
        runtime,
        body.outbox_sent_days
        if body.outbox_sent_days is not None
        else settings.retention_outbox_sent_days,
        body.inbox_days if body.inbox_days is not None else settings.retention_inbox_days,
    )


@router.get("/personal-data/{user_id}", response_model=PersonalDataExport)
async def personal_data(user_id: uuid.UUID, runtime: RuntimeDep) -> PersonalDataExport:
    """Every row this service holds about the user, per declared table (read-only)."""
    return await runtime.personal_data.collect(runtime.db, runtime.settings.service_name, user_id)

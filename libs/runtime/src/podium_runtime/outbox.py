"""Transactional outbox and inbox (SPEC §4, STYLE 4-5).

Producers write events as rows of their own `outbox` table in the same
transaction as the state change; `OutboxRelay` publishes them to Kafka with the
declared partition key and marks them sent. A row holds one event, or a run of
events staged together that share their topic, key, type and context, one JSON
document per line (`row_payloads`; ADR 0097), or for an `EventRun` one compact line
of many events, expanded when the row is read (ADR 0102). Rows are claimed with
`FOR UPDATE SKIP LOCKED`, so several relay replicas never publish the same row
while one of them holds it; a crash after publishing and before marking sent
republishes (at-least-once), which consumers absorb with their inbox.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from aiokafka.errors import KafkaError
from podium_contracts import Event, topic_for
from pydantic_core import to_json
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from podium_runtime import tracing
from podium_runtime.context import causation_id_var, current_correlation_id
from podium_runtime.db import Database, DriverStatement, after_commit
from podium_runtime.failures import FailureLog, is_infrastructure_error
from podium_runtime.metrics import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISHED,
    OUTBOX_UNDELIVERABLE,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessagingTables:
    """A service's `outbox` and `processed_events` tables."""

    outbox: Table
    inbox: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    """Declare (or return the already declared) outbox and inbox tables of a service's schema."""
    prefix = f"{metadata.schema}." if metadata.schema else ""
    if prefix + "outbox" in metadata.tables:
        return MessagingTables(
            metadata.tables[prefix + "outbox"], metadata.tables[prefix + "processed_events"]
        )
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("event_type", String(255), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Index("ix_outbox_unsent", "seq", postgresql_where="sent_at IS NULL"),
    )
    inbox = Table(
        "processed_events",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("consumer", String(100), primary_key=True),
        Column("event_type", String(255), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return MessagingTables(outbox=outbox, inbox=inbox)


def event_headers(event: Event) -> dict[str, str]:
    """Return the Kafka headers mirroring an envelope's routing facts."""
    headers = {
        "event_type": event.type,
        "event_version": str(event.version),
        "correlation_id": event.correlation_id,
        "producer": event.producer,
    }
    if event.causation_id:
        headers["causation_id"] = event.causation_id
    # W3C trace context of the span staging the event (ADR 0038): the consumer continues it.
    tracing.inject(headers)
    return headers


def new_event(event_cls: type[Event], producer: str, data: Any) -> Event:
    """Build an envelope carrying the current correlation id and causation id."""
    return event_cls(  # type: ignore[call-arg,unused-ignore]  # type/version: the subclass literals
        producer=producer,
        correlation_id=current_correlation_id(),
        causation_id=causation_id_var.get(),
        data=data,
    )


def new_ids(count: int) -> list[str]:
    """Return `count` random (version 4) UUIDs as their canonical text, from one read of
    the system's randomness (a third of the cost of `uuid.UUID` objects made into text)."""
    digits = os.urandom(16 * count).hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-4{digits[i + 13 : i + 16]}-"
        f"{_VARIANT[digits[i + 16]]}{digits[i + 17 : i + 20]}-{digits[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


#: The first digit of a UUID's fourth group with its top bits set to the RFC 4122 variant.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


@dataclass(frozen=True)
class EventRun:
    """Events of one class that share `first`'s envelope but for their ids and data (ADR 0099).

    For a producer that announces many events at once (a line climbing a board tells
    every line it passed): `first` is an ordinary event, validated when it was built;
    the others are their ids and their data, as the fields they share and one column
    of values per field that differs. The producer vouches for those values (its own,
    of the data model's types, JSON-ready), so they are not validated again. The outbox
    stores the others as compact run lines (ADR 0102), which `row_payloads` expands
    into each event's document: `first`'s envelope around its data written by
    `pydantic_core.to_json`, which is how a model writes the same values.
    """

    first: Event
    #: The other events' ids (canonical UUID text, `new_ids`).
    ids: Sequence[str]
    #: Data fields every other event holds with the same value, by name.
    shared: Mapping[str, Any]
    #: The other data fields: per field, one value per event, in the order of `ids`.
    columns: Mapping[str, Sequence[Any]]

    def staged(self, max_bytes: int = 0) -> list[tuple[uuid.UUID | str, str, str]]:
        """Return the first event's id, partition key and JSON document, then the others'
        run lines: each its first event's id, the key of all of its events and the line.

        Events of one partition key share a line; a line over `max_bytes` (when given) or
        `RUN_LINE_EVENTS` events is cut in halves, and an event that alone makes a line
        too long is staged as its own document, which `Outbox.add` then refuses as too
        large.
        """
        first, field = self.first, self.first.partition_by
        staged: list[tuple[uuid.UUID | str, str, str]] = [_staged(first)]
        if not self.ids:
            return staged
        envelope = first.model_dump_json(exclude={"id", "data"})[1:-1]
        fields = list(type(first.data).model_fields)
        limit = max_bytes - _RUN_LINE_SLACK if max_bytes else 0
        if field in self.shared:
            keyed = [(str(self.shared[field]), 0, len(self.ids))]
        else:
            keys = [str(value) for value in self.columns[field]]
            bounds = [0, *(i for i in range(1, len(keys)) if keys[i] != keys[i - 1]), len(keys)]
            keyed = [(keys[a], a, b) for a, b in itertools.pairwise(bounds)]
        for key, start, stop in keyed:
            staged += self._lines(envelope, fields, key, start, stop, limit)
        return staged

    def _lines(
        self, envelope: str, fields: list[str], key: str, start: int, stop: int, limit: int
    ) -> list[tuple[uuid.UUID | str, str, str]]:
        """Return the run lines of events `start` to `stop`, cut in halves while too long
        or too many."""
        line = to_json(
            [
                envelope,
                fields,
                self.shared,
                self.ids[start:stop],
                {name: values[start:stop] for name, values in self.columns.items()},
            ]
        ).decode()
        too_long = limit and len(line) * 4 > limit and len(line.encode()) > limit
        if too_long or stop - start > RUN_LINE_EVENTS:
            if stop - start > 1:
                middle = (start + stop) // 2
                return self._lines(envelope, fields, key, start, middle, limit) + self._lines(
                    envelope, fields, key, middle, stop, limit
                )
            (line,) = _run_documents(line)
        return [(self.ids[start], key, line)]


#: The most events a run line holds: about as many as a row of documents held before
#: run lines (ADR 0097), so a relay's claim expands to no more messages than it did.
RUN_LINE_EVENTS = 2_000

#: How much longer than its run line one event's document can be: its `"id":` name (a
#: line holds the names of the data fields, and the envelope escaped, so no more).
_RUN_LINE_SLACK = 64


def _run_documents(line: str) -> list[str]:
    """Return the JSON documents of the events a run line stands for (ADR 0102)."""
    envelope, fields, shared, ids, columns = json.loads(line)
    documents = []
    for i, event_id in enumerate(ids):
        data = {name: shared[name] if name in shared else columns[name][i] for name in fields}
        documents.append(f'{{"id":"{event_id}",{envelope},"data":{to_json(data).decode()}}}')
    return documents


def _staged(event: Event) -> tuple[uuid.UUID | str, str, str]:
    """Return an event's id, partition key and JSON document."""
    return event.id, event.partition_key(), event.model_dump_json()


def new_event_run(
    event_cls: type[Event],
    producer: str,
    shared: Mapping[str, Any],
    columns: Mapping[str, Sequence[Any]],
) -> EventRun | None:
    """Build a run of `event_cls` events (None for no events): each holds the `shared`
    data fields and its own value of each of the `columns`, all of one length.

    Every field of the data model is in exactly one of the two. The first event is
    validated as `new_event` would; the others are trusted (`EventRun`). They share
    the first's instant, correlation and causation.
    """
    data_model = event_cls.model_fields["data"].annotation
    fields = set(data_model.model_fields)  # type: ignore[union-attr]
    if shared.keys() & columns.keys() or shared.keys() | columns.keys() != fields:
        raise ValueError(
            f"a run of {event_cls.__name__} names each of its data fields once: "
            f"{sorted(fields)}, shared or in columns"
        )
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError("a run's columns hold one value per event each")
    (count,) = lengths
    if not count:
        return None
    data = {**shared, **{name: values[0] for name, values in columns.items()}}
    first = new_event(event_cls, producer, data_model.model_validate(data))  # type: ignore[union-attr]
    rest = {name: list(values[1:]) for name, values in columns.items()}
    return EventRun(first, new_ids(count - 1), shared, rest)


#: Default largest serialised event the outbox accepts: below Kafka's 1 MiB default
#: `max.request.size` and `message.max.bytes` with room for the key, headers and batch.
MAX_EVENT_BYTES = 900_000

#: Header marking an outbox row the relay could not publish and moved aside (ADR 0030).
UNDELIVERABLE_HEADER = "x-undeliverable"


class EventTooLarge(Exception):
    """An event is larger than the broker accepts; it is refused before it is stored."""

    code = "EVENT_TOO_LARGE"

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        super().__init__(f"a {event_type} event of {size} bytes exceeds the {limit}-byte limit")
        self.event_type = event_type
        self.size = size
        self.limit = limit


class Outbox:
    """Writes events into a service's outbox inside the caller's transaction."""

    def __init__(
        self, table: Table, topic_prefix: str = "", max_event_bytes: int = MAX_EVENT_BYTES
    ) -> None:
        self.table = table
        self.topic_prefix = topic_prefix
        self.max_event_bytes = max_event_bytes
        self._wake: Callable[[], None] | None = None
        # One statement of arrays whatever the batch's size; only the table's name is
        # spliced. It runs for every unit of work that stages events (ADR 0100).
        self._insert = DriverStatement(
            text(
                f"""
            INSERT INTO {table.fullname} (event_id, topic, key, event_type, payload, headers)
            SELECT * FROM unnest(
                CAST(:event_ids AS uuid[]), CAST(:topics AS text[]), CAST(:keys AS text[]),
                CAST(:event_types AS text[]), CAST(:payloads AS text[]),
                CAST(:headers AS jsonb[])
            )
            """  # noqa: S608
            )
        )

    def on_commit(self, wake: Callable[[], None]) -> None:
        """Register a callback (the relay's wake-up) run after a commit that added events."""
        self._wake = wake

    async def add(self, session: AsyncSession, *events: Event | EventRun) -> None:
        """Stage `events` in the session's transaction; nothing is sent unless it commits.

        Consecutive events that share their topic, key, type and context go into one
        row, one JSON document per line, up to about `max_event_bytes` a row; the relay
        publishes each as its own message (ADR 0097). An `EventRun` stands for its
        events, in run lines (ADR 0099, 0102). Raises `EventTooLarge` for an event the
        broker would refuse, so the caller's request or message fails cleanly instead of
        the relay stalling on it later.
        """
        # Each envelope with the (id, key, JSON document or run line) of the events it
        # stands for, serialised once: an event stands for itself, a run for its events.
        parts = [
            (event.first, event.staged(self.max_event_bytes))
            if isinstance(event, EventRun)
            else (event, [_staged(event)])
            for event in events
        ]
        for event, staged in parts:
            # A character is at most 4 bytes: only a payload that may be too large is encoded.
            for _, _, payload in staged:
                if len(payload) * 4 > self.max_event_bytes:
                    size = len(payload.encode())
                    if size > self.max_event_bytes:
                        raise EventTooLarge(event.type, size, self.max_event_bytes)
        # A batch is mostly one kind of event from one context: its topic and headers
        # are worked out once per kind, and the rows go in as one statement of arrays.
        routes: dict[tuple[type[Event], str, str, str | None], tuple[str, str]] = {}
        rows: list[_Row] = []
        for event, staged in parts:
            kind = (type(event), event.producer, event.correlation_id, event.causation_id)
            route = routes.get(kind)
            if route is None:
                route = routes[kind] = (
                    self.topic_prefix + topic_for(event).name,
                    json.dumps(event_headers(event)),
                )
            for event_id, key, payload in staged:
                row = rows[-1] if rows else None
                if (
                    row is None
                    or row.route is not route
                    or row.key != key
                    or row.size + len(payload) > self.max_event_bytes
                ):
                    rows.append(_Row(event_id, event.type, route, key, [payload], len(payload)))
                else:
                    row.payloads.append(payload)
                    row.size += len(payload) + 1
        if not rows:
            return
        await self._insert.fetch(
            session,
            {
                "event_ids": [row.event_id for row in rows],
                "topics": [row.route[0] for row in rows],
                "keys": [row.key for row in rows],
                "event_types": [row.event_type for row in rows],
                "payloads": ["\n".join(row.payloads) for row in rows],
                "headers": [row.route[1] for row in rows],
            },
        )
        if self._wake is not None:
            after_commit(session, self._wake)


@dataclass
class _Row:
    """One outbox row being formed: its first event's id and type, route (topic, headers),
    key and payloads."""

    event_id: uuid.UUID | str
    event_type: str
    route: tuple[str, str]
    key: str
    payloads: list[str]
    #: The characters the row's payload holds so far.
    size: int


def row_payloads(payload: str) -> list[str]:
    """Return the events an outbox row holds, each as its JSON document (ADR 0097).

    A serialised event is compact JSON, which never holds a raw line break, so the
    documents of a row are its lines; a line that is a JSON array is a run of events,
    expanded here (ADR 0102).
    """
    documents: list[str] = []
    for line in payload.split("\n"):
        if line.startswith("["):
            documents += _run_documents(line)
        else:
            documents.append(line)
    return documents


Publish = Callable[[str, str, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]


class _Claimed(NamedTuple):
    """An outbox row the relay claimed to publish."""

    seq: int
    topic: str
    key: str
    payload: str
    headers: dict[str, str]


def _like_prefix(prefix: str) -> str:
    """Return the LIKE pattern (escape character `/`) of the texts starting with `prefix`."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"{escaped}%"


class OutboxRelay:
    """Moves committed outbox rows to Kafka, oldest first, in claimed batches.

    A relay with a `topic_prefix` moves only rows staged for topics under that
    prefix: deployments (or test stacks) sharing one database but not one set of
    topics never publish, or wait behind, each other's rows.
    """

    def __init__(
        self,
        database: Database,
        table: Table,
        publish: Publish,
        *,
        topic_prefix: str = "",
        batch_size: int = 200,
        max_idle: float = 0.5,
        gather: float = 0.0,
    ) -> None:
        self.database = database
        self.table = table
        self.publish = publish
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.max_idle = max_idle
        #: Seconds a woken relay waits before it looks, so that the commits landing
        #: meanwhile share one pass (ADR 0113); 0 looks at once.
        self.gather = gather
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._failures = FailureLog(log)
        self._claim_values: dict[str, Any] = {"limit": batch_size}
        if topic_prefix:
            self._claim_values["topics"] = _like_prefix(topic_prefix)

    @functools.cached_property
    def _claim(self) -> DriverStatement:
        """The statement claiming a batch: the rows of `unsent`, oldest first. It and
        `_mark_sent` run for every batch (ADR 0100); only the table's name is spliced,
        the prefix is bound as a pattern (`_claim_values`)."""
        under_prefix = " AND topic LIKE :topics ESCAPE '/'" if self.topic_prefix else ""
        return DriverStatement(
            text(
                "SELECT seq, topic, key, payload, CAST(headers AS text) AS headers "  # noqa: S608
                f"FROM {self.table.fullname} WHERE sent_at IS NULL{under_prefix} "
                "ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED"
            )
        )

    @functools.cached_property
    def _mark_sent(self) -> DriverStatement:
        """The statement marking the published rows of a batch sent."""
        return DriverStatement(
            text(
                f"UPDATE {self.table.fullname} SET sent_at = now() "  # noqa: S608
                "WHERE seq = ANY(CAST(:seqs AS bigint[]))"
            )
        )

    @property
    def unsent(self) -> ColumnElement[bool]:
        """The rows this relay still has to publish: unsent, under its topic prefix (the rows
        `_claim` picks, as an expression for the backlog's queries)."""
        unsent = self.table.c.sent_at.is_(None)
        if not self.topic_prefix:
            return unsent
        return and_(unsent, self.table.c.topic.like(self._claim_values["topics"], escape="/"))

    def wake(self) -> None:
        """Ask the relay to look for new rows now instead of after its idle wait."""
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one claimed batch and mark it sent; return how many rows moved.

        A row the broker refuses for what it is (too large, invalid) is moved aside
        as undeliverable instead of blocking every row behind it; an outage of the
        broker fails the whole batch, which is then tried again in order.
        """
        async with self.database.session() as session:
            rows = [
                _Claimed(r["seq"], r["topic"], r["key"], r["payload"], json.loads(r["headers"]))
                for r in await self._claim.fetch(session, self._claim_values)
            ]
            if not rows:
                return 0
            # Each event of a row is its own message, sent in order (ADR 0097).
            pending: list[Awaitable[Any] | BaseException] = []
            owners: list[int] = []  # the row of each message
            for r in rows:
                for payload in row_payloads(r.payload):
                    owners.append(r.seq)
                    try:
                        pending.append(
                            await self.publish(r.topic, r.key, payload.encode(), r.headers)
                        )
                    except Exception as exc:  # refused before sending, e.g. too large
                        pending.append(exc)
            # Every send must be acknowledged before the rows are marked sent.
            outcomes = await asyncio.gather(
                *(_failed(p) if isinstance(p, BaseException) else p for p in pending),
                return_exceptions=True,
            )
            published = Counter(owners)  # messages per row
            failures: dict[int, Exception] = {}
            for seq, outcome in zip(owners, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    failures.setdefault(seq, outcome)
            for error in failures.values():
                if not _refused(error):
                    raise error  # an outage or a crash: the whole batch is tried again
            sent = [r.seq for r in rows if r.seq not in failures]
            if sent:
                await self._mark_sent.fetch(session, {"seqs": sent})
            for r in rows:
                if r.seq in failures:
                    await self._set_aside(session, r, failures[r.seq])
        OUTBOX_PUBLISHED.inc(sum(published[seq] for seq in sent))
        for r in rows:
            if r.seq not in failures:
                EVENTS_PUBLISHED.labels(r.headers.get("event_type", "?")).inc(published[r.seq])
        return len(rows)

    async def _set_aside(self, session: AsyncSession, row: Any, error: Exception) -> None:
        """Mark a row the broker refused as undeliverable: out of the queue, kept for operators."""
        reason = f"{type(error).__name__}: {error}"[:500]
        headers = {**row.headers, UNDELIVERABLE_HEADER: reason}
        await session.execute(
            update(self.table)
            .where(self.table.c.seq == row.seq)
            .values(sent_at=func.now(), headers=headers)
        )
        OUTBOX_UNDELIVERABLE.labels(row.topic).inc()
        log.error(
            "outbox event cannot be published; moved aside",
            extra={"seq": row.seq, "topic": row.topic, "error": reason},
        )

    async def update_backlog(self) -> None:
        """Refresh the outbox-backlog gauges (run when `/metrics` is scraped, not in the loop)."""
        OUTBOX_BACKLOG.set(await self.backlog())
        async with self.database.session() as session:
            oldest = await session.scalar(
                select(func.extract("epoch", func.now() - func.min(self.table.c.created_at))).where(
                    self.unsent
                )
            )
        OUTBOX_OLDEST_AGE.set(float(oldest or 0))

    async def backlog(self) -> int:
        """Return how many rows wait to be published (a row holds one event or a run)."""
        async with self.database.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(self.table).where(self.unsent)
            )
        return int(count or 0)

    async def run(self) -> None:
        """Relay until `stop()`; back off while idle, retry after broker or database errors.

        The wake-up is cleared before each look, so a commit that lands while the
        relay is busy makes it look again at once instead of waiting out `idle`.
        After a batch short of `batch_size` with no wake-up meanwhile nothing of
        this process is left: the relay waits rather than opening a session to
        find nothing (rows of other processes are found within `max_idle`).
        A woken relay first waits `gather`, so a busy service's commits share a
        pass (one claim, one send, one update) instead of taking one each.
        """
        idle = 0.01
        while not self._stopping:
            self._wakeup.clear()
            try:
                moved = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures.log(
                    logging.ERROR, "outbox relay failed; retrying", exc, exc_info=True
                )
                moved = 0
                idle = self.max_idle
            if moved >= self.batch_size:
                idle = 0.01  # a backlog: the next batch at once
                continue
            if moved:
                # A short batch took every row of this process committed before the look;
                # a later commit sets the wake-up, so no pass is opened to find nothing.
                idle = self.max_idle
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=idle)
            except TimeoutError:
                idle = min(idle * 2, self.max_idle)
            else:
                if self.gather and not self._stopping:
                    await asyncio.sleep(self.gather)

    def stop(self) -> None:
        """Finish the current batch and leave `run()`."""
        self._stopping = True
        self._wakeup.set()


async def claim_event(session: AsyncSession, inbox: Table, consumer: str, event: Event) -> bool:
    """Record `event` as processed by `consumer` in the caller's transaction.

    Returns False when it was processed before: the caller must then do nothing.
    """
    return bool(await claim_events(session, inbox, consumer, [event]))


@functools.cache
def _claim(inbox: Table) -> DriverStatement:
    # One statement of arrays whatever the batch's size (a multi-row VALUES is compiled
    # anew per row count); only the table's name is spliced. Every batch a consumer
    # takes runs it (ADR 0100).
    return DriverStatement(
        text(
            f"""
        INSERT INTO {inbox.fullname} (event_id, consumer, event_type)
        SELECT event_id, CAST(:consumer AS text), event_type
        FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS text[]))
            AS claimed(event_id, event_type)
        ON CONFLICT DO NOTHING
        RETURNING event_id
        """  # noqa: S608
        )
    )


async def claim_events(
    session: AsyncSession, inbox: Table, consumer: str, events: Sequence[Event]
) -> set[Any]:
    """Record many events as processed in one statement; return the ids that were new."""
    if not events:
        return set()
    rows = await _claim(inbox).fetch(
        session,
        {
            "consumer": consumer,
            "event_ids": [e.id for e in events],
            "event_types": [e.type for e in events],
        },
    )
    return {row[0] for row in rows}


async def _failed(error: BaseException) -> Any:
    raise error


def _refused(error: BaseException) -> bool:
    """True when the broker refused the message itself (too large, invalid) for good."""
    return (
        isinstance(error, KafkaError)
        and not getattr(error, "retriable", False)
        and not is_infrastructure_error(error)
    )


async def undeliverable_events(session: AsyncSession, outbox: Table) -> Sequence[Any]:
    """Return the outbox rows the relay moved aside because the broker refused them."""
    return (
        await session.execute(
            select(outbox)
            .where(outbox.c.sent_at.is_not(None), outbox.c.headers.has_key(UNDELIVERABLE_HEADER))
            .order_by(outbox.c.seq)
        )
    ).all()


async def staged_events(
    session: AsyncSession | AsyncConnection, outbox: Table, event_type: str | None = None
) -> list[dict[str, Any]]:
    """Return the envelopes staged in `outbox` (of one type, if given), in staging order,
    each decoded from its row (`row_payloads`): tests and operators read events with it."""
    query = select(outbox.c.payload).order_by(outbox.c.seq)
    if event_type is not None:
        query = query.where(outbox.c.event_type == event_type)
    payloads = await session.scalars(query)
    return [json.loads(doc) for payload in payloads for doc in row_payloads(payload)]


async def unsent_events(session: AsyncSession, outbox: Table) -> Sequence[Any]:
    """Return the unsent outbox rows (tests and operators inspect the backlog with it)."""
    return (await session.execute(select(outbox).where(outbox.c.sent_at.is_(None)))).all()


__all__ = [
    "MAX_EVENT_BYTES",
    "RUN_LINE_EVENTS",
    "EventRun",
    "EventTooLarge",
    "MessagingTables",
    "Outbox",
    "OutboxRelay",
    "claim_event",
    "claim_events",
    "event_headers",
    "messaging_tables",
    "new_event",
    "new_event_run",
    "new_ids",
    "row_payloads",
    "staged_events",
    "undeliverable_events",
    "unsent_events",
]

"""Kafka plumbing: broker factory, event publisher, and the idempotent consumer (SPEC §4, STYLE 5).

`EventConsumer` subscribes a service's handlers with `group_id=<service>` and an
explicit ack policy: the offset is committed only after the handler's
transaction (which also records the event id in the inbox) has committed. A
handler that keeps failing is retried a bounded number of times, then the
message goes to the topic's dead-letter topic with the error in its headers and
the consumer moves on.

Failures of the infrastructure are not the message's fault (`failures`, ADR
0029): while the database, Redis or the broker is unreachable the consumer
keeps trying the same message with capped exponential backoff, which holds its
partitions where they are, and carries on when the dependency is back. Such
failures never count as attempts and never dead-letter a message. Every other
way out of dispatch, a record that is not an envelope included, either handles
the record or dead-letters it, so no record is redelivered forever.

A service that takes many events of one type per second may register a batch
handler instead (`handles_batch`): its events are then applied many at a time,
in one unit of work that records all their ids in the inbox, and the offsets
are committed after it. A batch that fails is retried event by event through
the ordinary per-message path, so only the event that cannot be handled is
dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from podium_contracts import Event, Topic, parse_event, topic_for
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from podium_runtime import tracing
from podium_runtime.batch_poll import long_poll
from podium_runtime.context import bound
from podium_runtime.db import Database
from podium_runtime.failures import Backoff, FailureLog, is_infrastructure_error
from podium_runtime.idle_fetch import IdleAwareKafkaBroker
from podium_runtime.metrics import (
    CONSUMER_LAG,
    CONSUMER_OUTAGE_RETRIES,
    EVENTS_DEAD_LETTERED,
    EVENTS_HANDLED,
    EVENTS_PUBLISHED,
)
from podium_runtime.outbox import EventTooLarge, claim_event, claim_events, event_headers
from podium_runtime.settings import ServiceSettings
from podium_runtime.tracing import record_headers

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any], Awaitable[None]]
H = TypeVar("H", bound=Handler)
BatchHandler = Callable[[AsyncSession, list[Any]], Awaitable[None]]
B = TypeVar("B", bound=BatchHandler)


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """Build the service's KafkaBroker: acks=all, idempotence per settings (SPEC §3).

    Its consumers hold an idle fetch for `consumer_fetch_idle_wait_ms` (`idle_fetch`);
    its producer fills a partition's batch up to `kafka_producer_batch_bytes` (ADR 0113).
    """
    return IdleAwareKafkaBroker(
        settings.kafka_bootstrap_servers,
        idle_wait_ms=settings.consumer_fetch_idle_wait_ms,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        partitioner=remembered_partitioner,
        client_id=settings.service_name,
        allow_auto_create_topics=False,
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
        max_batch_size=settings.kafka_producer_batch_bytes,
    )


@functools.lru_cache(maxsize=8192)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def remembered_partitioner(
    key: bytes | None, all_partitions: list[int], available: list[int]
) -> int:
    """Choose a record's partition as aiokafka's `DefaultPartitioner` does (Kafka's murmur2
    of the key), remembering each key's hash: the keys are ids of competitions, users and
    actors, which recur, and the pure-Python hash costs about 16 µs a record here.
    """
    if key is None:
        return int(_DEFAULT_PARTITIONER(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


_DEFAULT_PARTITIONER = DefaultPartitioner()


class EventPublisher:
    """Publishes envelopes directly and waits for the broker's acknowledgement.

    Only the gateway, which has no database, publishes this way (STYLE 4);
    services publish through their outbox, whose relay uses `send`.
    """

    def __init__(self, broker: KafkaBroker, topic_prefix: str = "") -> None:
        self.broker = broker
        self.topic_prefix = topic_prefix

    async def send(
        self, topic: str, key: str, payload: bytes, headers: dict[str, str]
    ) -> Awaitable[Any]:
        """Start sending one message; the returned awaitable completes on acknowledgement."""
        future: Awaitable[Any] = await self.broker.publish(
            payload, topic=topic, key=key.encode(), headers=headers, no_confirm=True
        )
        return future

    async def publish(self, *events: Event) -> None:
        """Publish `events` with their declared keys; returns once all are acknowledged."""
        pending = [
            await self.send(
                self.topic_prefix + topic_for(e).name,
                e.partition_key(),
                e.model_dump_json().encode(),
                event_headers(e),
            )
            for e in events
        ]
        await asyncio.gather(*pending)
        for event in events:
            EVENTS_PUBLISHED.labels(event.type).inc()


#: (attempt, max_attempts) of the message being handled; 0 outside a consumer.
_delivery_attempt: contextvars.ContextVar[tuple[int, int]] = contextvars.ContextVar(
    "podium_delivery_attempt", default=(0, 0)
)


def is_final_attempt() -> bool:
    """Return True while a handler runs its last attempt before dead-lettering (SPEC §7.1).

    A handler may then record a terminal outcome in its own unit of work before
    re-raising, so nothing stays pending while the message goes to the DLQ.
    """
    attempt, attempts = _delivery_attempt.get()
    return attempts > 0 and attempt >= attempts


class DeadLetter(Exception):
    """Raised inside dispatch to send the current message straight to the dead-letter topic."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class MalformedEnvelope(ValueError):
    """A record that is not an envelope this runtime can route (not JSON, no type, ...)."""


def envelope_kind(body: bytes) -> tuple[str, str]:
    """Return the `(type, version)` of an envelope, read from its body.

    Raises `MalformedEnvelope` for anything that is not a JSON object with a
    string `type` and an integer `version`, so no odd value reaches a lookup.
    """
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEnvelope(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise MalformedEnvelope("the envelope is not a JSON object")
    event_type, version = envelope.get("type"), envelope.get("version")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEnvelope("the envelope has no string `type`")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MalformedEnvelope("the envelope has no integer `version`")
    return event_type, str(version)


async def _undecoded(message: Any) -> Any:
    """Skip faststream's JSON decoding: hand the handler the message itself, records as bytes.

    Without it every record is decoded twice (a generic `json.loads`, then the contract's
    pydantic parse), and a poll of statements pays for both. A coroutine function, and
    the handlers take its answer as a plain argument instead of faststream's injected
    `KafkaMessage`: faststream runs a plain decoder, and fast_depends the injection, in
    a worker thread, two thread hops for every message or poll (ADR 0085).
    """
    return message


class EventConsumer:
    """Dispatches a service's events to handlers in a unit of work with inbox deduplication."""

    def __init__(
        self, service: str, database: Database, inbox: Table, settings: ServiceSettings
    ) -> None:
        self.service = service
        self.database = database
        self.inbox = inbox
        self.settings = settings
        self.handlers: dict[str, Handler] = {}
        self.handled_types: set[str] = set()
        self.topics: dict[str, Topic] = {}
        self.subscribers: list[Any] = []
        self._broker: KafkaBroker | None = None
        self.batch_handlers: dict[str, BatchHandler] = {}
        #: Most records one poll hands to the batch path (with `handles_batch` only).
        self.batch_max_records = 500
        #: Set by the runtime: True when a dependency (database, Redis) does not answer, so
        #: an error of a type the failure model does not know is still seen as an outage.
        self.dependencies_down: Callable[[], Awaitable[bool]] | None = None
        self.failure_log = FailureLog(log, settings.consumer_failure_log_interval_seconds)

    def handles(self, *event_classes: type[Event]) -> Callable[[H], H]:
        """Register the decorated `handler(session, event)` for these event classes."""

        def decorate(handler: H) -> H:
            for cls in event_classes:
                event_type = cls.model_fields["type"].default
                version = cls.model_fields["version"].default
                self.handlers[f"{event_type}@{version}"] = handler
                self.handled_types.add(event_type)
                topic = topic_for(cls)
                self.topics[self.settings.kafka_topic_prefix + topic.name] = topic
            return handler

        return decorate

    def handles_batch(
        self, *event_classes: type[Event], max_records: int | None = None
    ) -> Callable[[B], B]:
        """Register `handler(session, events)` applying many events of these classes at once.

        The handler gets the events of one poll that are new to this consumer, in
        partition order, inside one unit of work that also records their ids.
        """

        def decorate(handler: B) -> B:
            for cls in event_classes:
                event_type = cls.model_fields["type"].default
                version = cls.model_fields["version"].default
                self.batch_handlers[f"{event_type}@{version}"] = handler
                self.handled_types.add(event_type)
                topic = topic_for(cls)
                self.topics[self.settings.kafka_topic_prefix + topic.name] = topic
            if max_records is not None:
                self.batch_max_records = max_records
            return handler

        return decorate

    def group_options(self) -> dict[str, Any]:
        """Return the consumer-group timeouts and fetch wait of this service's subscriber.

        Assignment stays aiokafka's round-robin with the eager protocol (it has no
        cooperative rebalancing): every member gives up all partitions on a rebalance,
        which the inbox makes harmless (docs/runtime.md, "Consumer settings").
        """
        return {
            "session_timeout_ms": self.settings.consumer_session_timeout_ms,
            "heartbeat_interval_ms": self.settings.consumer_heartbeat_interval_ms,
            "max_poll_interval_ms": self.settings.consumer_max_poll_interval_ms,
            "fetch_max_wait_ms": self.settings.consumer_fetch_max_wait_ms,
        }

    def subscribe(self, broker: KafkaBroker) -> None:
        """Attach one subscriber for every topic with a handler (one consumer group)."""
        self._broker = broker
        if not self.topics:
            return
        if self.batch_handlers:
            self._subscribe_batches(broker)
            return

        async def on_message(msg: Any) -> None:
            await self.dispatch(msg.body, msg.raw_message)

        subscriber = broker.subscriber(
            *sorted(self.topics),
            group_id=self.service,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            max_poll_records=100,
            decoder=_undecoded,
            **self.group_options(),
        )
        subscriber(on_message)
        self.subscribers.append(subscriber)

    def _subscribe_batches(self, broker: KafkaBroker) -> None:
        async def on_batch(msg: Any) -> None:
            await self.dispatch_batch(msg.raw_message)

        subscriber = broker.subscriber(
            *sorted(self.topics),
            group_id=self.service,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            batch=True,
            max_records=self.batch_max_records,
            # getmany returns as soon as records are buffered; this bounds an idle poll,
            # which `long_poll` no longer follows with a sleep of the same length.
            batch_timeout_ms=self.settings.consumer_batch_poll_ms,
            decoder=_undecoded,
            **self.group_options(),
        )
        long_poll(subscriber)
        subscriber(on_batch)
        self.subscribers.append(subscriber)

    async def dispatch_batch(self, records: Sequence[Any]) -> None:
        """Handle one poll's records in order; runs of batch-handled events share a unit of work.

        Records of other types go through `dispatch` one by one, between the runs,
        so the order of a partition is kept.
        """
        run: list[tuple[Any, Event]] = []
        run_handler: BatchHandler | None = None
        for number, record in enumerate(records, start=1):
            if number % 100 == 0:
                await asyncio.sleep(0)  # parsing a large poll must not starve the event loop
            handler, event = self._batch_event(record)
            if handler is None or event is None:
                if run:
                    await self._apply_batch(run_handler, run)  # type: ignore[arg-type]
                    run, run_handler = [], None
                await self.dispatch(record.value, record)
                continue
            if run and handler is not run_handler:
                await self._apply_batch(run_handler, run)  # type: ignore[arg-type]
                run = []
            run.append((record, event))
            run_handler = handler
        if run:
            await self._apply_batch(run_handler, run)  # type: ignore[arg-type]

    def _batch_event(self, record: Any) -> tuple[BatchHandler | None, Event | None]:
        """Return the batch handler and parsed event of a record, or Nones (ordinary path)."""
        headers = {k: v for k, v in (record.headers or [])}
        event_type = headers.get("event_type", b"").decode(errors="replace")
        version = headers.get("event_version", b"").decode(errors="replace")
        if not event_type or not version:
            # Published without the routing headers: the body says what it is.
            try:
                event_type, version = envelope_kind(record.value)
            except MalformedEnvelope:
                return None, None  # `dispatch` dead-letters it with the reason
        handler = self.batch_handlers.get(f"{event_type}@{version}")
        if handler is None:
            return None, None
        try:
            event = parse_event(record.value)
        except (ValidationError, ValueError, TypeError):
            return None, None  # `dispatch` dead-letters it with the reason
        if event.type != event_type or str(event.version) != version:
            return None, None
        return handler, event

    async def _apply_batch(self, handler: BatchHandler, run: list[tuple[Any, Event]]) -> None:
        """Apply a run of events in one unit of work; on failure, one by one with retries."""
        headers = [record_headers(record) for record, _ in run]
        with tracing.consuming(self.service, run[0][1].type, headers, run[0][0].topic):
            await self._apply_run(handler, run)

    async def _apply_run(self, handler: BatchHandler, run: list[tuple[Any, Event]]) -> None:
        events: dict[Any, Event] = {}
        for _, event in run:
            events.setdefault(event.id, event)
        waits = self._outage_backoff()
        failure: Exception | None = None
        while True:
            try:
                async with self.database.session() as session:
                    fresh = await claim_events(
                        session, self.inbox, self.service, list(events.values())
                    )
                    new = [e for e in events.values() if e.id in fresh]
                    if new:
                        await handler(session, new)
            except Exception as exc:
                if await self._is_outage(exc):
                    await self._wait_out(run[0][0].topic, exc, waits)
                    continue
                failure = exc
            break
        if waits.failures:
            self._recovered(run[0][0].topic)
        if failure is not None:
            self.failure_log.log(
                logging.WARNING,
                "batch failed; handling its events one by one",
                failure,
                extra={"events": len(events)},
            )
            one = _single(handler)
            for record, event in run:
                with bound(event.correlation_id, str(event.id), event.type):
                    await self._apply_with_retries(record.topic, record.value, record, one, event)
            return
        handled = {e.id for e in new}
        for record, event in run:
            outcome = "ok" if event.id in handled else "duplicate"
            handled.discard(event.id)
            EVENTS_HANDLED.labels(record.topic, event.type, outcome).inc()

    async def dispatch(self, body: bytes, record: Any) -> None:
        """Handle one Kafka record: parse, deduplicate, apply with retries, or dead-letter.

        Whatever the record holds, it leaves here handled or dead-lettered; only an
        unreachable broker for the dead-letter topic is raised (and redelivered).
        """
        topic_name: str = record.topic
        try:
            event_type, version = envelope_kind(body)
        except MalformedEnvelope as exc:
            await self._dead_letter(topic_name, body, record, "MALFORMED_MESSAGE", str(exc), 1)
            return
        if event_type not in self.handled_types:
            return  # another service's fact on a shared topic
        handler = self.handlers.get(f"{event_type}@{version}")
        batch_handler = self.batch_handlers.get(f"{event_type}@{version}")
        if handler is None and batch_handler is not None:
            handler = _single(batch_handler)
        if handler is None:
            await self._dead_letter(
                topic_name,
                body,
                record,
                "UNSUPPORTED_VERSION",
                f"{event_type} version {version} is not understood",
                1,
            )
            return
        try:
            event = parse_event(body)
        except (ValidationError, ValueError, TypeError) as exc:
            await self._dead_letter(topic_name, body, record, "INVALID_EVENT", str(exc), 1)
            return
        with (
            bound(event.correlation_id, str(event.id), event.type),
            tracing.consuming(self.service, event.type, [record_headers(record)], topic_name),
        ):
            await self._apply_with_retries(topic_name, body, record, handler, event)

    def _outage_backoff(self) -> Backoff:
        return Backoff(
            self.settings.consumer_retry_backoff_seconds,
            self.settings.consumer_outage_backoff_max_seconds,
        )

    async def _is_outage(self, exc: BaseException) -> bool:
        """True when `exc` comes from an unreachable dependency rather than from the message."""
        if is_infrastructure_error(exc):
            return True
        if self.dependencies_down is None:
            return False
        try:
            return await self.dependencies_down()
        except Exception:
            return True

    async def _wait_out(self, topic_name: str, exc: BaseException, waits: Backoff) -> None:
        """Log (throttled) and sleep before trying the same message again during an outage."""
        CONSUMER_OUTAGE_RETRIES.labels(topic_name).inc()
        delay = waits.next_delay()
        self.failure_log.log(
            logging.WARNING,
            "dependency unavailable; the message is kept and tried again",
            exc,
            extra={"retry_in_seconds": delay, "topic": topic_name},
        )
        await asyncio.sleep(delay)

    def _recovered(self, topic_name: str) -> None:
        log.info("dependency back; consuming again", extra={"topic": topic_name})
        self.failure_log.recovered()

    async def _apply_with_retries(
        self, topic_name: str, body: bytes, record: Any, handler: Handler, event: Event
    ) -> None:
        """Apply one event; retry its own failures a bounded number of times, outages unbounded."""
        try:
            await self._attempt(topic_name, body, record, handler, event)
        finally:
            # The consumer's task goes on to other polls: a batch run must not see the
            # last attempt of this message as its own (`is_final_attempt`).
            _delivery_attempt.set((0, 0))

    async def _attempt(
        self, topic_name: str, body: bytes, record: Any, handler: Handler, event: Event
    ) -> None:
        attempts = self.settings.consumer_max_attempts
        attempt = 1
        waits = self._outage_backoff()
        while True:
            _delivery_attempt.set((attempt, attempts))
            try:
                async with self.database.session() as session:
                    if not await claim_event(session, self.inbox, self.service, event):
                        EVENTS_HANDLED.labels(topic_name, event.type, "duplicate").inc()
                        return
                    await handler(session, event)
            except DeadLetter as exc:
                await self._dead_letter(topic_name, body, record, exc.code, exc.detail, attempt)
                return
            except EventTooLarge as exc:  # the same event is as large on every attempt
                await self._dead_letter(topic_name, body, record, exc.code, str(exc), attempt)
                return
            except Exception as exc:
                if await self._is_outage(exc):
                    await self._wait_out(topic_name, exc, waits)
                    continue
                if attempt >= attempts:
                    log.exception("handler failed; dead-lettering", extra={"attempts": attempt})
                    await self._dead_letter(
                        topic_name, body, record, type(exc).__name__, str(exc), attempt
                    )
                    return
                self.failure_log.log(
                    logging.WARNING, "handler failed; retrying", exc, extra={"attempt": attempt}
                )
                await asyncio.sleep(
                    self.settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1)
                )
                attempt += 1
            else:
                if waits.failures:
                    self._recovered(topic_name)
                EVENTS_HANDLED.labels(topic_name, event.type, "ok").inc()
                return

    async def _dead_letter(
        self, topic_name: str, body: bytes, record: Any, code: str, detail: str, attempts: int
    ) -> None:
        """Publish the original bytes to `<topic>.dlq` with the failure in headers.

        While the broker is unreachable the publish is tried again with backoff:
        the record is not acknowledged before its dead letter is.
        """
        assert self._broker is not None, "subscribe() first"
        topic = self.topics.get(topic_name)
        dead_letter = (
            self.settings.kafka_topic_prefix + topic.dead_letter if topic else f"{topic_name}.dlq"
        )
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
        headers.update(
            {
                "x-error-code": code,
                "x-error-detail": detail[:2000],
                "x-consumer": self.service,
                "x-original-topic": topic_name,
                "x-original-partition": str(record.partition),
                "x-original-offset": str(record.offset),
                "x-attempts": str(attempts),
                "x-failed-at": str(time.time()),
            }
        )
        waits = self._outage_backoff()
        while True:
            try:
                await self._broker.publish(body, topic=dead_letter, key=record.key, headers=headers)
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise
                await self._wait_out(topic_name, exc, waits)
                continue
            break
        EVENTS_DEAD_LETTERED.labels(topic_name).inc()
        EVENTS_HANDLED.labels(topic_name, headers.get("event_type", "?"), "dead_lettered").inc()
        log.error("message dead-lettered", extra={"code": code, "dead_letter_topic": dead_letter})

    async def update_lag(self) -> None:
        """Refresh the consumer-lag gauge from the assigned partitions' high watermarks."""
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                position = await consumer.position(tp)
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))


def _single(handler: BatchHandler) -> Handler:
    """Adapt a batch handler to one event (records routed by body rather than headers)."""

    async def one(session: AsyncSession, event: Event) -> None:
        await handler(session, [event])

    return one


def topics_with_dead_letters(topics: Iterable[Topic], prefix: str = "") -> list[str]:
    """Return the prefixed names of `topics` and their dead-letter topics."""
    names: list[str] = []
    for topic in topics:
        names += [prefix + topic.name, prefix + topic.dead_letter]
    return names

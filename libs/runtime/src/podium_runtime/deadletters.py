"""Reading and replaying dead-lettered events (SPEC §10.5, docs/operations.md).

The consumer (`broker.EventConsumer`) publishes a message it cannot handle to
`<topic>.dlq`, the original bytes unchanged, with the failure in `x-*`
headers. This module reads those topics from the beginning to their end
offsets without joining a consumer group (so it never moves anybody's
offsets), and replays a record by publishing its original bytes, key and
headers to the original topic. A replay is safe however often it happens:
every consumer group records handled event ids in its inbox, so a group
that already applied the event skips it and one that failed applies it once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from podium_contracts.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)

#: Headers the consumer adds when dead-lettering; left off when replaying.
FAILURE_HEADER_PREFIX = "x-"

Send = Callable[[str, str, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]


def topic_named(name: str) -> Topic | None:
    """Return the registered topic called `name` (unprefixed), or None."""
    return next((t for t in ALL_TOPICS if t.name == name), None)


@dataclass(frozen=True)
class DeadLetteredRecord:
    """One record of a dead-letter topic, with what the consumer said about the failure."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, str]
    dead_lettered_at: datetime | None = field(default=None)

    @property
    def target_id(self) -> str:
        """Return `topic/partition/offset`, the id of this record in the audit log."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def event_type(self) -> str | None:
        """Return the event type from the headers, else from the body."""
        return self.headers.get("event_type") or self.envelope().get("type")

    @property
    def event_id(self) -> str | None:
        """Return the event id from the headers, else from the body."""
        return self.headers.get("event_id") or self.envelope().get("id")

    def envelope(self) -> dict[str, Any]:
        """Return the event as JSON, or {} when the body is not a JSON object."""
        try:
            document = json.loads(self.value)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    @property
    def error_code(self) -> str | None:
        """Return the failure's code (an exception name or a dead-letter code)."""
        return self.headers.get("x-error-code")

    @property
    def error(self) -> str | None:
        """Return the failure's detail."""
        return self.headers.get("x-error-detail")

    @property
    def consumer(self) -> str | None:
        """Return the consumer group that gave up."""
        return self.headers.get("x-consumer")

    @property
    def attempts(self) -> int:
        """Return how often the consumer tried before giving up."""
        try:
            return int(self.headers.get("x-attempts", "1"))
        except ValueError:
            return 1

    @property
    def failed_at(self) -> datetime | None:
        """Return when the consumer gave up (header), else the record's timestamp."""
        try:
            return datetime.fromtimestamp(float(self.headers["x-failed-at"]), UTC)
        except (KeyError, ValueError):
            return self.dead_lettered_at

    def replay_headers(self) -> dict[str, str]:
        """Return the original headers (failure headers removed) plus where it came from."""
        kept = {k: v for k, v in self.headers.items() if not k.startswith(FAILURE_HEADER_PREFIX)}
        return {**kept, "x-replayed-from": self.target_id}


def _record(topic: str, raw: Any) -> DeadLetteredRecord:
    headers = {k: v.decode(errors="replace") for k, v in (raw.headers or [])}
    stamp = datetime.fromtimestamp(raw.timestamp / 1000, UTC) if raw.timestamp else None
    key = raw.key.decode(errors="replace") if raw.key is not None else None
    return DeadLetteredRecord(topic, raw.partition, raw.offset, key, raw.value, headers, stamp)


class DeadLetterReader:
    """Reads the dead-letter topics of a topic prefix, outside any consumer group."""

    def __init__(self, bootstrap_servers: str, topic_prefix: str = "") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = topic_prefix

    async def read(self, topics: Iterable[Topic] = ALL_TOPICS) -> list[DeadLetteredRecord]:
        """Return every record of these topics' dead-letter topics, oldest first per partition."""
        records: list[DeadLetteredRecord] = []
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        names = {self.topic_prefix + t.dead_letter: t.name for t in topics}
        partitions = await self._partitions(sorted(names))
        await consumer.start()
        try:
            if not partitions:
                return []
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
            for tp in remaining:
                consumer.seek(tp, starts[tp])
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=1000)
                if not batch:
                    for tp in list(remaining):
                        if await consumer.position(tp) >= ends[tp]:
                            remaining.discard(tp)
                    continue
                for tp, raws in batch.items():
                    for raw in raws:
                        if raw.offset < ends[tp]:
                            records.append(_record(names[tp.topic], raw))
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        records.sort(key=lambda r: (r.topic, r.partition, r.offset))
        return records

    async def _partitions(self, names: list[str]) -> list[TopicPartition]:
        """Return the partitions of those of `names` that exist."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            described = await admin.describe_topics(names)
        finally:
            await admin.close()
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if topic.get("error_code", 0) == 0
            for partition in sorted(topic["partitions"], key=lambda p: p["partition"])
        ]

    async def replay(self, record: DeadLetteredRecord, send: Send) -> None:
        """Publish the record's original bytes, key and headers to its original topic.

        Returns once the broker acknowledged.
        """
        acknowledged = await send(
            self.topic_prefix + record.topic,
            record.key or "",
            record.value,
            record.replay_headers(),
        )
        await acknowledged
        log.info(
            "dead letter replayed",
            extra={"dead_letter": record.target_id, "event_type": record.event_type},
        )

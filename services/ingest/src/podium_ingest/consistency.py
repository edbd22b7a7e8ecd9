"""The honest `X-Experience-API-Consistent-Through` instant of the LRS (xAPI Comm. 2.1.3).

A statement is stamped `stored` by the gateway, then published; ingest stores
it when it consumes it and commits the offset after its transaction. So when,
at instant T, the group's committed offset reaches the end of every partition
of the statements topic, every statement acknowledged by Kafka before T is
stored; under steady load, the same holds once the committed offsets pass the
ends read at T. Statements stamped before T but acknowledged after it are those whose
publication was still in flight: the gateway bounds that to
`publish_window` (it refuses statements it could not publish within it), so
everything stamped before T - window is stored. When the consumer lags, the
last instant it was caught up stays the answer: it never claims more than it
knows. Checks are shared by concurrent callers and reused for `refresh`.

End offsets are read through a client of the tracker's own, not the statement
consumer's: the broker handles one request per connection at a time, and an
idle consumer's fetch is held for `consumer_fetch_idle_wait_ms`
(`podium_runtime.idle_fetch`), so a ListOffsets behind it would wait as long.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from podium_contracts.topics import XAPI_STATEMENTS
from podium_runtime.runtime import ServiceRuntime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ConsistencyTracker:
    """Computes the instant before which every accepted statement is readable."""

    def __init__(
        self, runtime: ServiceRuntime, publish_window: timedelta, refresh_seconds: float = 0.2
    ) -> None:
        self.runtime = runtime
        self.publish_window = publish_window
        self.refresh_seconds = refresh_seconds
        self._through = EPOCH
        self._checked = -float("inf")
        self._lock = asyncio.Lock()
        #: (instant, end offsets read just after it) awaiting the consumer.
        self._snapshot: tuple[datetime, dict[Any, int]] | None = None
        #: Group-less client that only lists offsets (started on first use, see above).
        self._offsets: AIOKafkaConsumer | None = None
        self._offsets_lock = asyncio.Lock()

    async def _end_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
        """Return the end offsets of `partitions`, asked on a connection of the tracker's own."""
        async with self._offsets_lock:
            if self._offsets is None:
                settings = self.runtime.settings
                client = AIOKafkaConsumer(
                    bootstrap_servers=settings.kafka_bootstrap_servers,
                    client_id=f"{settings.service_name}-offsets",
                    enable_auto_commit=False,
                )
                await client.start()
                self._offsets = client
        ends: dict[Any, int] = await self._offsets.end_offsets(partitions)
        return ends

    async def close(self) -> None:
        """Close the offsets client, if it was started."""
        async with self._offsets_lock:
            client, self._offsets = self._offsets, None
        if client is not None:
            await client.stop()

    async def through(self) -> datetime:
        """Return the consistent-through instant (checked at most every `refresh_seconds`)."""
        if time.monotonic() - self._checked < self.refresh_seconds:
            return self._through
        async with self._lock:
            if time.monotonic() - self._checked >= self.refresh_seconds:
                await self._advance()
                self._checked = time.monotonic()
        return self._through

    def _statements_consumer(self) -> tuple[Any, str] | None:
        if self.runtime.consumer is None:
            return None
        for subscriber in self.runtime.consumer.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for topic in consumer.subscription():
                if topic.endswith(XAPI_STATEMENTS.name):
                    return consumer, topic
        return None

    async def await_acknowledged(self, timeout: float) -> bool:
        """Wait until every statement Kafka acknowledged before this call is stored.

        Read-your-writes for reads derived from statements (the Activities resource): a
        client that got its 200 finds its statement. False when `timeout` passed first.
        """
        found = self._statements_consumer()
        if found is None:
            return False
        consumer, topic = found
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        deadline = time.monotonic() + timeout
        try:
            ends: dict[Any, int] = await self._end_offsets(partitions)
            while True:
                done = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
                if all((d or 0) >= ends[tp] for tp, d in zip(partitions, done, strict=True)):
                    return True
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.05)
        except Exception:  # the broker is unreachable: answer with what is stored
            return False

    async def _advance(self) -> None:
        """Move the instant forward as far as the committed offsets prove."""
        found = self._statements_consumer()
        if found is None:
            return
        consumer, topic = found
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return
        now = datetime.now(UTC)
        try:
            ends: dict[Any, int] = await self._end_offsets(partitions)
            done = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
        except Exception:  # the broker is unreachable: keep the last known instant
            return
        committed = {tp: offset or 0 for tp, offset in zip(partitions, done, strict=True)}
        # Under steady load the consumer is never at the very end; an earlier snapshot of
        # the ends that it has now passed proves everything acknowledged before that snapshot.
        if self._snapshot is not None:
            taken_at, snapshot_ends = self._snapshot
            if all(committed[tp] >= snapshot_ends.get(tp, 0) for tp in partitions):
                self._through = max(self._through, taken_at - self.publish_window)
                self._snapshot = None
        if all(committed[tp] >= ends[tp] for tp in partitions):
            self._through = max(self._through, now - self.publish_window)
            self._snapshot = None
        elif self._snapshot is None:
            self._snapshot = (now, ends)

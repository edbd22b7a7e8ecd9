"""The honest `X-Experience-API-Consistent-Through` instant of the LRS (xAPI Comm. 2.1.3).

A statement is stamped `stored` by the gateway, then published; ingest stores
it when it consumes it and commits the offset after its transaction. So when,
at instant T, the group's committed offset reaches the end of every partition
of the statements topic, every statement acknowledged by Kafka before T is
stored. Statements stamped before T but acknowledged after it are those whose
publication was still in flight: the gateway bounds that to
`publish_window` (it refuses statements it could not publish within it), so
everything stamped before T - window is stored. When the consumer lags, the
last instant it was caught up stays the answer: it never claims more than it
knows. Checks are shared by concurrent callers and reused for `refresh`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
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

    async def through(self) -> datetime:
        """Return the consistent-through instant (checked at most every `refresh_seconds`)."""
        if time.monotonic() - self._checked < self.refresh_seconds:
            return self._through
        async with self._lock:
            if time.monotonic() - self._checked >= self.refresh_seconds:
                started = datetime.now(UTC)
                if await self._caught_up():
                    self._through = max(self._through, started - self.publish_window)
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

    async def _caught_up(self) -> bool:
        found = self._statements_consumer()
        if found is None:
            return False
        consumer, topic = found
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return False
        try:
            ends = await consumer.end_offsets(partitions)
            committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
        except Exception:  # the broker is unreachable: keep the last known instant
            return False
        return all((done or 0) >= ends[tp] for tp, done in zip(partitions, committed, strict=True))

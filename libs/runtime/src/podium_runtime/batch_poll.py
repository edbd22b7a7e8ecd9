"""Long-poll batch subscriber: an idle batch consumer waits instead of waking every 50 ms.

faststream's `BatchSubscriber` calls `AIOKafkaConsumer.getmany(timeout_ms=t)` and,
when that returns nothing, sleeps another `t` before polling again. `getmany`
already is a long poll: it returns as soon as the fetcher buffers records, and only
an idle wait runs to `t`. The extra sleep therefore adds nothing but latency, which
is why it had to stay short (50 ms), and a short `t` costs about ten wake-ups a
second per idle batch consumer.

`LongPollBatchSubscriber` polls again right after an empty `getmany`, so `t`
(`consumer_batch_poll_ms`) can be long: records are handed over the moment they
arrive, and an idle consumer wakes once per `t`.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from faststream.kafka.subscriber.usecase import BatchSubscriber

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord


class LongPollBatchSubscriber(BatchSubscriber):
    """A `BatchSubscriber` whose empty poll is not followed by a sleep."""

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
        """Return the records of one `getmany` long poll (empty after an idle wait)."""
        messages = await consumer.getmany(
            timeout_ms=self.batch_timeout_ms, max_records=self.max_records
        )
        return tuple(chain(*messages.values()))


def long_poll(subscriber: Any) -> Any:
    """Turn a batch subscriber made by `broker.subscriber(batch=True)` into a long-poll one.

    The subscriber keeps its state; only the poll changes (same slots, no new fields).
    """
    if not isinstance(subscriber, BatchSubscriber):
        raise TypeError(f"not a faststream batch subscriber: {type(subscriber).__name__}")
    subscriber.__class__ = LongPollBatchSubscriber
    return subscriber

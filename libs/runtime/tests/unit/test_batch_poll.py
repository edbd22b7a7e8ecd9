"""The long-poll batch subscriber polls again at once after an idle `getmany`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from podium_runtime.batch_poll import LongPollBatchSubscriber, long_poll


class _Consumer:
    """Stands in for `AIOKafkaConsumer.getmany`: returns each prepared poll in turn."""

    def __init__(self, *polls: dict[str, list[str]]) -> None:
        self.polls = list(polls)
        self.calls: list[tuple[int, int | None]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[str, list[str]]:
        self.calls.append((timeout_ms, max_records))
        return self.polls.pop(0)


def _subscriber(batch_timeout_ms: int) -> Any:
    broker = KafkaBroker()
    return broker.subscriber("t", batch=True, batch_timeout_ms=batch_timeout_ms, max_records=7)


async def test_an_empty_long_poll_is_not_followed_by_a_sleep() -> None:
    subscriber = long_poll(_subscriber(batch_timeout_ms=600_000))
    consumer = _Consumer({}, {"p0": ["a", "b"], "p1": ["c"]})
    # faststream's own subscriber would sleep the whole 600 s after the empty poll.
    assert await asyncio.wait_for(subscriber.get_msg(consumer), timeout=5) == ()
    assert await asyncio.wait_for(subscriber.get_msg(consumer), timeout=5) == ("a", "b", "c")
    assert consumer.calls == [(600_000, 7), (600_000, 7)]
    assert isinstance(subscriber, LongPollBatchSubscriber)


def test_only_batch_subscribers_are_converted() -> None:
    with pytest.raises(TypeError):
        long_poll(KafkaBroker().subscriber("t"))

"""Idle consumers hold their fetch long, yet no record waits behind it (`idle_fetch`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from podium_runtime.idle_fetch import IdleAwareConsumer, IdleFetcher
from podium_runtime.testing import TestInfrastructure, eventually

#: Far longer than any wait below: a record that waited for it would fail the test.
HOLD_MS = 120_000
BUSY_MS = 200
ARRIVES_WITHIN = 30.0


@pytest.fixture
async def topic(test_infra: TestInfrastructure) -> AsyncIterator[str]:
    """A fresh two-partition topic of this run, deleted afterwards (not on tansu)."""
    if test_infra.infra.on_tansu:
        pytest.skip("tansu holds a fetch for its whole wait, records or not")
    async with test_infra.scratch_topic("idle-fetch", 2) as name:
        yield name


def member(test_infra: TestInfrastructure, topic: str) -> IdleAwareConsumer:
    """A consumer of `topic` in the group named after it: short busy, long idle waits."""
    return test_infra.group_member(
        IdleAwareConsumer,
        topic,
        fetch_max_wait_ms=BUSY_MS,
        idle_wait_ms=HOLD_MS,
        request_timeout_ms=HOLD_MS + 30_000,
    )


def holds_idle_fetch(consumer: IdleAwareConsumer) -> bool:
    """Tell whether `consumer` has a fetch in flight that the broker may hold the long wait."""
    fetcher = consumer._fetcher
    return fetcher._fetch_max_wait_ms == HOLD_MS and bool(fetcher._in_flight)


async def test_an_idle_fetch_is_held_long_but_records_end_it_and_never_wait_behind_it(
    test_infra: TestInfrastructure, topic: str
) -> None:
    consumer = member(test_infra, topic)
    producer = AIOKafkaProducer(bootstrap_servers=test_infra.infra.kafka_bootstrap_servers)
    await consumer.start()
    await producer.start()
    try:
        fetcher = consumer._fetcher
        assert isinstance(fetcher, IdleFetcher)
        first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)

        async def idle_fetch_held() -> bool:
            return consumer.assignment() == {first, second} and holds_idle_fetch(consumer)

        await eventually(idle_fetch_held, message="an idle fetch held for the long wait")
        # Apache Kafka answers the held fetch as soon as a record arrives.
        await producer.send_and_wait(topic, b"a", partition=0)
        received = await asyncio.wait_for(consumer.getone(), ARRIVES_WITHIN)
        assert received.value == b"a"

        # A record left unconsumed on one partition: the fetch of the other is short.
        await producer.send_and_wait(topic, b"b", partition=0)

        async def other_partition_fetched_briefly() -> bool:
            return first in fetcher._records and (
                fetcher._fetch_max_wait_ms == BUSY_MS and bool(fetcher._in_flight)
            )

        await eventually(other_partition_fetched_briefly, message="a short fetch of the other")
        assert (await consumer.getone()).value == b"b"
        # The next record on the consumed partition does not wait for a held fetch.
        await producer.send_and_wait(topic, b"c", partition=0)
        received = await asyncio.wait_for(consumer.getone(), ARRIVES_WITHIN)
        assert received.value == b"c"
        # A consumer loop asks for the next record at once, which drops the exhausted batch.
        waiting = asyncio.create_task(consumer.getone())
        try:
            await eventually(idle_fetch_held, message="idle again: the long wait is back")
        finally:
            waiting.cancel()
    finally:
        await producer.stop()
        await consumer.stop()


async def test_after_a_rebalance_new_partitions_do_not_wait_behind_a_held_fetch(
    test_infra: TestInfrastructure, topic: str
) -> None:
    staying, leaving = member(test_infra, topic), member(test_infra, topic)
    producer = AIOKafkaProducer(bootstrap_servers=test_infra.infra.kafka_bootstrap_servers)
    await staying.start()
    await leaving.start()
    await producer.start()
    try:

        async def split() -> bool:
            return len(staying.assignment()) == 1 and len(leaving.assignment()) == 1

        await eventually(split, timeout=60, message="one partition each")
        (kept,) = staying.assignment()

        async def holding() -> bool:
            return holds_idle_fetch(staying)

        await eventually(holding, message="the staying member holds an idle fetch")
        await leaving.stop()  # leaves the group; its partition moves to `staying`
        (moved,) = {TopicPartition(topic, 0), TopicPartition(topic, 1)} - {kept}
        # Nothing arrives on the held fetch's partition, so only a new connection
        # lets the moved partition be fetched before that fetch ends.
        await producer.send_and_wait(topic, b"moved", partition=moved.partition)
        received = await asyncio.wait_for(staying.getone(), ARRIVES_WITHIN)
        assert (received.partition, received.value) == (moved.partition, b"moved")
    finally:
        await producer.stop()
        await staying.stop()


async def test_a_fetch_that_ended_before_its_mark_was_cleared_leaves_no_one_waiting(
    test_infra: TestInfrastructure, topic: str
) -> None:
    """Regression: records waited out the whole idle wait (5 s) behind a finished fetch.

    aiokafka's fetch routine can drop a finished fetch task from the tasks it waits on
    before the task's callback clears the node's in-flight mark. That round sends no
    fetch for the node, and the routine slept its idle timeout with records waiting.
    The round is replayed here as the routine saw it: the node still marked, no task
    of it pending.
    """
    consumer = member(test_infra, topic)
    await consumer.start()
    try:
        fetcher = consumer._fetcher
        assert isinstance(fetcher, IdleFetcher)

        async def idle_fetch_held() -> bool:
            return len(consumer.assignment()) == 2 and holds_idle_fetch(consumer)

        await eventually(idle_fetch_held, message="an idle fetch held for the long wait")
        assignment = consumer._subscription.subscription.assignment
        # While the held fetch runs, the routine sleeps long: the fetch's answer wakes it.
        requests, _, timeout, _, _ = fetcher._get_actions_per_node(assignment)
        assert (requests, timeout) == ([], HOLD_MS / 1000)
        running, fetcher._pending_tasks = fetcher._pending_tasks, set()
        try:
            requests, _, timeout, _, _ = fetcher._get_actions_per_node(assignment)
        finally:
            fetcher._pending_tasks = running
        assert (requests, timeout) == ([], 0)
    finally:
        await consumer.stop()

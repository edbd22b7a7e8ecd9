"""Commits carry only the partitions that moved, and the group still resumes exactly (ADR 0110)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from podium_runtime.commits import MovedOffsetsConsumer
from podium_runtime.testing import TestInfrastructure, eventually

PARTITIONS = 3


@pytest.fixture
async def topic(test_infra: TestInfrastructure) -> AsyncIterator[str]:
    """A fresh three-partition topic of this run, deleted afterwards."""
    async with test_infra.scratch_topic("commits", PARTITIONS) as name:
        yield name


@pytest.fixture
async def producer(test_infra: TestInfrastructure) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer to this run's broker, stopped afterwards."""
    started = AIOKafkaProducer(bootstrap_servers=test_infra.infra.kafka_bootstrap_servers)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def member(test_infra: TestInfrastructure, topic: str) -> MovedOffsetsConsumer:
    """A consumer of `topic` in the group named after it, committing by hand."""
    return test_infra.group_member(MovedOffsetsConsumer, topic, fetch_max_wait_ms=100)


def record_commits(consumer: MovedOffsetsConsumer) -> list[dict[int, int]]:
    """Return the list every commit the consumer sends is appended to ({partition: offset})."""
    sent: list[dict[int, int]] = []
    coordinator = consumer._coordinator
    commit_offsets = coordinator.commit_offsets

    async def recording(assignment: Any, offsets: dict[TopicPartition, Any]) -> None:
        await commit_offsets(assignment, offsets)  # the broker gets it as it would
        sent.append({tp.partition: meta.offset for tp, meta in offsets.items()})

    coordinator.commit_offsets = recording
    return sent


async def consume(consumer: MovedOffsetsConsumer, count: int) -> list[bytes]:
    """Return the values of the next `count` records (any partitions)."""
    values: list[bytes] = []
    while len(values) < count:
        batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1_000), 30)
        values += [record.value for records in batches.values() for record in records]
    return values


async def test_a_commit_sends_only_moved_partitions_and_the_group_resumes_after_them(
    test_infra: TestInfrastructure, topic: str, producer: AIOKafkaProducer
) -> None:
    consumer = member(test_infra, topic)
    await consumer.start()
    try:
        sent = record_commits(consumer)
        for partition, value in ((0, b"a"), (0, b"b"), (1, b"c")):
            await producer.send_and_wait(topic, value, partition=partition)
        assert sorted(await consume(consumer, 3)) == [b"a", b"b", b"c"]

        await consumer.commit()  # the first of an assignment: every position
        assert sent == [{0: 2, 1: 1, 2: 0}]
        await consumer.commit()  # nothing moved: no request
        assert len(sent) == 1

        await producer.send_and_wait(topic, b"d", partition=1)
        assert await consume(consumer, 1) == [b"d"]
        await consumer.commit()
        assert sent[1:] == [{1: 2}]
        await consumer.commit({TopicPartition(topic, 2): 0})  # explicit offsets pass through
        assert sent[2:] == [{2: 0}]
    finally:
        await consumer.stop()

    # The group holds every position: a new member gets only what came after them.
    await producer.send_and_wait(topic, b"e", partition=0)
    successor = member(test_infra, topic)
    await successor.start()
    try:
        assert await consume(successor, 1) == [b"e"]
        committed = [await successor.committed(TopicPartition(topic, p)) for p in range(3)]
        assert committed == [2, 2, 0]
    finally:
        await successor.stop()


async def test_after_a_rebalance_the_first_commit_sends_every_position_again(
    test_infra: TestInfrastructure, topic: str, producer: AIOKafkaProducer
) -> None:
    staying = member(test_infra, topic)
    await staying.start()
    joining = member(test_infra, topic)
    try:
        sent = record_commits(staying)
        await producer.send_and_wait(topic, b"a", partition=0)
        assert await consume(staying, 1) == [b"a"]
        await staying.commit()
        assert sent == [{0: 1, 1: 0, 2: 0}]

        await joining.start()
        polling = asyncio.create_task(consume(joining, 1_000_000))  # a member keeps polling

        async def split() -> bool:
            await staying.getmany(timeout_ms=100)  # the staying member takes part in the rebalance
            return len(staying.assignment()) + len(joining.assignment()) == PARTITIONS and bool(
                joining.assignment()
            )

        await eventually(split, timeout=60, message="the partitions shared by both members")
        polling.cancel()
        kept = sorted(tp.partition for tp in staying.assignment())
        for tp in staying.assignment():
            await staying.position(tp)  # each kept partition's position known again
        await staying.commit()  # a new assignment: its positions are sent again
        assert sorted(sent[-1]) == kept
    finally:
        await joining.stop()
        await staying.stop()

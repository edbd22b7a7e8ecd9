"""A publish retried after a lost acknowledgement is stored once (SPEC §3, issue 12).

A proxy between producer and broker swallows the answer to one Produce request
after the broker has appended the record, and closes the connection: the
producer cannot know the record is in the log and sends it again. With the
idempotent producer (the default on Apache Kafka) the broker recognises the
retried batch by producer id and sequence and the topic holds the record once;
without it, the same fault leaves two copies, which shows the fault is real.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from kafka_support.broker import broker_home, own_broker
from kafka_support.proxy import AnswerDroppingProxy
from podium_runtime.broker import EventPublisher, create_broker
from podium_runtime.settings import ServiceSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def proxied() -> AsyncIterator[AnswerDroppingProxy]:
    """An Apache Kafka node that every client reaches only through the proxy."""
    from podium_runtime.kafka_embedded import EmbeddedKafka

    node = EmbeddedKafka(broker_home())
    proxy = AnswerDroppingProxy(node.port)
    await proxy.start()
    node.advertised_port = proxy.port
    async with own_broker(node):
        yield proxy
    await proxy.stop()


async def publish_once_through_a_dropped_answer(
    proxy: AnswerDroppingProxy, idempotence: bool
) -> list[bytes]:
    """Publish one record while its first answer is lost; return the topic's records."""
    bootstrap = f"127.0.0.1:{proxy.port}"
    topic = f"idempotence-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    settings = ServiceSettings(
        kafka_bootstrap_servers=bootstrap, kafka_enable_idempotence=idempotence
    )
    broker = create_broker(settings)
    await broker.start()
    try:
        publisher = EventPublisher(broker)
        # A first record opens the connection and the producer id; the next answer is lost.
        await (await publisher.send(topic, "k", b"warm-up", {}))
        dropped_before = proxy.dropped_answers
        proxy.drop_next_produce_answer()
        await (await publisher.send(topic, "k", b"the record", {}))
        assert proxy.dropped_answers == dropped_before + 1, "the answer was not dropped"
    finally:
        await broker.stop()
    return await read_all(bootstrap, topic)


async def read_all(bootstrap: str, topic: str) -> list[bytes]:
    """Return every record value of partition 0 of `topic`, up to its end offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        values: list[bytes] = []
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            values += [record.value for record in batch.get(partition, [])]
        return values
    finally:
        await consumer.stop()


async def test_idempotent_producer_stores_a_retried_record_once(
    proxied: AnswerDroppingProxy,
) -> None:
    records = await publish_once_through_a_dropped_answer(proxied, idempotence=True)
    print(f"\nidempotent producer, one answer dropped: records in topic {records}")
    assert records == [b"warm-up", b"the record"]


async def test_without_idempotence_the_same_fault_duplicates_the_record(
    proxied: AnswerDroppingProxy,
) -> None:
    records = await publish_once_through_a_dropped_answer(proxied, idempotence=False)
    print(f"\nplain producer, one answer dropped: records in topic {records}")
    assert records == [b"warm-up", b"the record", b"the record"]

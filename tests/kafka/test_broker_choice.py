"""Which broker the tests and `make dev` run on, and what each choice implies (ADR 0005)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from kafka_support.broker import own_broker
from podium_runtime import kafka_embedded
from podium_runtime import ports as ports_module
from podium_runtime.infra import APACHE_KAFKA, TANSU, create_topics, provision
from podium_runtime.kafka_embedded import KAFKA_VERSION, java_available
from podium_runtime.testing import TestInfrastructure, eventually


async def test_the_suite_runs_on_apache_kafka_with_the_idempotent_producer(
    test_infra: TestInfrastructure,
) -> None:
    source = test_infra.infra.sources["KAFKA_BOOTSTRAP_SERVERS"]
    if source == TANSU:
        assert os.environ.get("PODIUM_ALLOW_TANSU") == "1"
        pytest.skip("running on tansu on purpose (PODIUM_ALLOW_TANSU=1)")
    if source == "embedded":  # pragma: no cover - the label is always specific
        raise AssertionError("the broker source is not named")
    if source not in ("environment", "testcontainers"):
        assert source == APACHE_KAFKA == f"embedded Apache Kafka {KAFKA_VERSION}"
    assert test_infra.infra.kafka_enable_idempotence
    # The broker grants a producer id: InitProducerId works (tansu lacks it).
    producer = AIOKafkaProducer(
        bootstrap_servers=test_infra.infra.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
    )
    await producer.start()
    try:
        await producer.send_and_wait(test_infra.topic_prefix + "podium.scores.dlq", b"probe")
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
    finally:
        await producer.stop()


def test_tansu_is_the_last_fallback_and_runs_without_idempotence(tmp_path: Path) -> None:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "PODIUM_EMBEDDED_BROKER": "tansu",
    }
    infra = provision(tmp_path, environ=environ)
    try:
        assert infra.sources["KAFKA_BOOTSTRAP_SERVERS"] == TANSU
        assert infra.kafka_enable_idempotence is False
        env = infra.environment()
        assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "false"
        assert env["KAFKA_CONSUMER_FETCH_MAX_WAIT_MS"] == "50"
        assert env["KAFKA_CONSUMER_FETCH_IDLE_WAIT_MS"] == "50"
    finally:
        infra.stop()


@pytest.mark.skipif(not java_available(), reason="needs Java 17+")
def test_with_java_the_embedded_broker_is_apache_kafka_with_idempotence(tmp_path: Path) -> None:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    infra = provision(tmp_path, environ=environ)
    try:
        assert infra.sources["KAFKA_BOOTSTRAP_SERVERS"] == APACHE_KAFKA
        assert infra.kafka_enable_idempotence is True
        assert "KAFKA_CONSUMER_FETCH_MAX_WAIT_MS" not in infra.environment()
        assert (tmp_path / "kafka" / "data" / "meta.properties").exists()
    finally:
        infra.stop()


async def test_a_restarted_broker_keeps_topics_records_and_committed_offsets() -> None:
    """What `make dev` relies on across a restart: the data directory is the state."""
    async with own_broker() as broker:
        bootstrap = broker.bootstrap_servers
        await create_topics(bootstrap, "durable.")
        topic = "durable.podium.scores"
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(topic, f"record {n}".encode(), partition=0)
        finally:
            await producer.stop()
        partition = TopicPartition(topic, 0)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id="durable", enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign([partition])
            await consumer.commit({partition: 2})
        finally:
            await consumer.stop()

        await asyncio.to_thread(broker.stop)  # as Ctrl-C on `make dev` does
        await asyncio.to_thread(broker.start)

        assert broker.bootstrap_servers == bootstrap
        assert await create_topics(bootstrap, "durable.") == []  # every topic is still there

        async def committed() -> int | None:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                offsets = await admin.list_consumer_group_offsets("durable")
                return offsets[partition].offset if partition in offsets else None
            finally:
                await admin.close()

        assert await eventually(committed, timeout=30, message="offsets loaded") == 2
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            batch = await consumer.getmany(partition, timeout_ms=5000)
            assert [r.value for r in batch[partition]] == [b"record 0", b"record 1", b"record 2"]
        finally:
            await consumer.stop()


@pytest.mark.skipif(not java_available(), reason="needs Java 17+")
def test_a_broker_port_taken_before_the_broker_binds_it_is_picked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    # The first port picked is taken by another server by the time the broker binds it.
    monkeypatch.setattr(
        kafka_embedded, "free_port", lambda: next(ports, None) or ports_module.free_port()
    )
    broker = kafka_embedded.EmbeddedKafka(tmp_path / "kafka")
    try:
        broker.start()
        assert broker.bootstrap_servers != f"127.0.0.1:{taken.getsockname()[1]}"
        log = (tmp_path / "kafka" / "kafka.log").read_text()
        assert "Address already in use" in log  # the first start did lose its port
    finally:
        broker.stop()
        taken.close()

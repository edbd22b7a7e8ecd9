"""An Apache Kafka node of a test's own, and infrastructure that points at it.

The worker's shared broker (`test_infra`) must not be killed under the other
suites, so the crash and proxy tests start their own `EmbeddedKafka` in their
temporary directory and get a fresh database and topics on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from podium_runtime.infra import APACHE_KAFKA, create_topics, ensure_database
from podium_runtime.kafka_embedded import EmbeddedKafka
from podium_runtime.testing import TestInfrastructure


def broker_home() -> Path:
    """Return a new directory for a broker's data, outside pytest's temp root.

    Another pytest run on the machine may prune or lock that root while this one runs.
    """
    return Path(tempfile.mkdtemp(prefix="podium-kafka-"))


@contextlib.asynccontextmanager
async def own_broker(broker: EmbeddedKafka | None = None) -> AsyncIterator[EmbeddedKafka]:
    """Start an Apache Kafka node (a new one by default); stop it and delete its data after."""
    broker = broker or EmbeddedKafka(broker_home())
    try:
        await asyncio.to_thread(broker.start)
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(broker.home, ignore_errors=True)


async def infrastructure_on(
    test_infra: TestInfrastructure, broker: EmbeddedKafka
) -> TestInfrastructure:
    """Return the worker's Postgres and Redis with a fresh database, and `broker` with topics."""
    run = uuid.uuid4().hex[:10]
    database_url = await ensure_database(test_infra.infra.database_url, f"podium_kafka_{run}")
    prefix = f"k{run}."
    await create_topics(broker.bootstrap_servers, prefix)
    infra = replace(
        test_infra.infra,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_enable_idempotence=True,
        sources={**test_infra.infra.sources, "KAFKA_BOOTSTRAP_SERVERS": APACHE_KAFKA},
        _stoppers=[],
    )
    return TestInfrastructure(infra, database_url, prefix)

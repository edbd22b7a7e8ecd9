"""An Apache Kafka node of a test's own, and infrastructure that points at it.

The worker's shared broker (`test_infra`) must not be killed under the other
suites, so the crash and proxy tests start their own `EmbeddedKafka` in their
temporary directory and get a fresh database and topics on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from podium_runtime.infra import APACHE_KAFKA, create_topics, ensure_database
from podium_runtime.kafka_embedded import EmbeddedKafka
from podium_runtime.testing import TestInfrastructure


@contextlib.asynccontextmanager
async def own_broker(home: Path | EmbeddedKafka) -> AsyncIterator[EmbeddedKafka]:
    """Start an Apache Kafka node (with its data in `home`); stop it, if still running, after."""
    broker = home if isinstance(home, EmbeddedKafka) else EmbeddedKafka(home)
    await asyncio.to_thread(broker.start)
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)


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

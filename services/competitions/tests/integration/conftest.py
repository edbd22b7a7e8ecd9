"""Fixtures: the competitions service on real Postgres, Redis and broker, started once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from competitions_harness import EventLog, Harness
from podium_competitions.app import create_api
from podium_competitions.config import Settings
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.service_credentials import auth_for
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import TestInfrastructure, recording, serve


@pytest.fixture(scope="module")
async def harness(test_infra: TestInfrastructure) -> AsyncIterator[Harness]:
    """The competitions service, a producer standing in for the gateway, and an event log."""
    await test_infra.migrate("competitions")
    settings = test_infra.settings(Settings, auto_end_interval_seconds=0.2)
    producer = ServiceRuntime(test_infra.settings(ServiceSettings, service_name="gateway-stand-in"))
    await producer.broker.start()
    log = EventLog()
    try:
        async with (
            recording(settings.kafka_bootstrap_servers, log.topics(settings), log.add),
            serve(create_api(settings)) as url,
            httpx.AsyncClient(base_url=url, auth=auth_for(settings)) as http,
        ):
            harness = Harness(http, producer, log)
            # The consumer group joins once; await a first decision so tests start warm.
            warm = await harness.create(uuid.uuid4())
            await harness.join(warm["id"], uuid.uuid4())
            yield harness
    finally:
        await producer.broker.stop()
        await producer.redis.aclose()

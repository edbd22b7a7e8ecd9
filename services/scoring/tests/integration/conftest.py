"""Fixtures: the scoring service on real Postgres, Redis, broker and a local blob store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from podium_runtime.blobs import BlobSettings, LocalBlobStore
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.service_credentials import auth_for
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import TestInfrastructure, recording, serve
from podium_scoring.app import create_api
from podium_scoring.config import Settings
from scoring_harness import MAX_SUBMISSION_BYTES, Scoring, TopicLog


@pytest.fixture(scope="module")
async def scoring(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Scoring]:
    """The scoring service, a producer standing in for the other services, and a topic log."""
    await test_infra.migrate("scoring")
    blob_dir: Path = tmp_path_factory.mktemp("scoring-blobs")
    settings = test_infra.settings(
        Settings,
        blob=BlobSettings(backend="local", dir=blob_dir),
        max_submission_bytes=MAX_SUBMISSION_BYTES,
    )
    blobs = LocalBlobStore(blob_dir)
    producer = ServiceRuntime(test_infra.settings(ServiceSettings, service_name="stand-in"))
    await producer.broker.start()
    log = TopicLog()
    try:
        async with (
            recording(settings.kafka_bootstrap_servers, log.topics(settings), log.records.append),
            serve(create_api(settings)) as url,
            httpx.AsyncClient(base_url=url, timeout=30, auth=auth_for(settings)) as http,
        ):
            yield Scoring(http, producer, blobs, log, settings)
    finally:
        await producer.broker.stop()
        await producer.redis.aclose()

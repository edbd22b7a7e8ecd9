"""Fixtures for runtime integration tests: the probe service on real infrastructure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from podium_runtime.migrations import upgrade
from podium_runtime.testing import TestInfrastructure
from probe import SCHEMA, ProbeSettings


@pytest.fixture(scope="session")
async def probe_settings(test_infra: TestInfrastructure) -> ProbeSettings:
    """Settings of the probe service, its schema migrated with its real migrations."""
    # Own topics: these tests publish poison messages no other suite should read.
    settings = test_infra.settings(
        ProbeSettings, kafka_topic_prefix=await test_infra.fresh_topics()
    )
    await asyncio.to_thread(
        upgrade, Path(__file__).parent / "probe_migrations", settings.database_url, SCHEMA
    )
    return settings

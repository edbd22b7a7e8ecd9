"""Fixtures for rewards integration tests: the service on real infrastructure, a frozen clock."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from podium_rewards.app import build_app, create_service
from podium_rewards.config import Settings
from podium_runtime.service_credentials import auth_for
from podium_runtime.testing import TestInfrastructure, serve
from rewards_harness import FrozenClock, Running


@pytest.fixture(scope="module")
async def rewards(test_infra: TestInfrastructure) -> AsyncIterator[Running]:
    """The rewards service with the scheduler driven by the tests through a frozen clock."""
    await test_infra.migrate("rewards")
    settings = test_infra.settings(Settings, scheduler_enabled=False, db_pool_size=30)
    clock = FrozenClock(datetime(2030, 1, 1, 12, tzinfo=UTC))
    service = create_service(settings, clock=clock)
    async with (
        serve(build_app(service)) as url,
        httpx.AsyncClient(base_url=url, timeout=60, auth=auth_for(settings)) as http,
    ):
        yield Running(service, url, http, clock)

"""Fixtures shared by every test suite: one isolated set of real infrastructure per worker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from podium_runtime.testing import TestInfrastructure


@pytest.fixture(scope="session")
async def test_infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestInfrastructure]:
    """Postgres, Redis and a Kafka-protocol broker for this worker, with its own database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    workdir = Path(tmp_path_factory.getbasetemp()) / f"infra-{worker}"
    infra = await TestInfrastructure.start(workdir)
    try:
        yield infra
    finally:
        infra.stop()

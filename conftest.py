"""Fixtures shared by every test suite: one isolated set of real infrastructure per worker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from podium_runtime.infra import TANSU
from podium_runtime.testing import TestInfrastructure


@pytest.fixture(scope="session")
async def test_infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestInfrastructure]:
    """Postgres, Redis and Apache Kafka for this worker, with its own database and topics.

    Tests run on Apache Kafka; a silent fall back to tansu (no Java 17+) fails every
    test that uses infrastructure unless `PODIUM_ALLOW_TANSU=1` says it is wanted.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    workdir = Path(tmp_path_factory.getbasetemp()) / f"infra-{worker}"
    infra = await TestInfrastructure.start(workdir)
    try:
        broker = infra.infra.sources["KAFKA_BOOTSTRAP_SERVERS"]
        if broker == TANSU and os.environ.get("PODIUM_ALLOW_TANSU") != "1":
            pytest.fail(
                "tests fell back to tansu (no Java 17+ on PATH?); install Java 17+ and run "
                "`make install`, or set PODIUM_ALLOW_TANSU=1 to run on tansu on purpose",
                pytrace=False,
            )
        yield infra
    finally:
        infra.stop()

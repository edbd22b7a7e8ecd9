"""Fixtures shared by every test suite: one isolated set of real infrastructure per worker."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from podium_runtime.infra import TANSU
from podium_runtime.testing import TestInfrastructure


@pytest.fixture(scope="session")
async def test_infra() -> AsyncIterator[TestInfrastructure]:
    """Postgres, Redis and Apache Kafka for this worker, with its own database and topics.

    Tests run on Apache Kafka; a silent fall back to tansu (no Java 17+) fails every
    test that uses infrastructure unless `PODIUM_ALLOW_TANSU=1` says it is wanted.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # Outside pytest's own temp root: another pytest run on the machine resets that
    # root to mode 0700, which locks out the unprivileged user embedded Postgres runs as.
    workdir = Path(tempfile.mkdtemp(prefix=f"podium-infra-{worker}-"))
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
        shutil.rmtree(workdir, ignore_errors=True)

"""Fixtures for notifier integration tests: one running notifier and a real SMTP sink per run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from notifier_harness import BOUNCING_DOMAIN, Running
from podium_notifier.app import build_app, create_service
from podium_notifier.config import Settings
from podium_notifier.devsink import DevMailSink
from podium_runtime.ports import free_port
from podium_runtime.service_credentials import auth_for
from podium_runtime.testing import TestInfrastructure, serve


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevMailSink]:
    """A real SMTP server on loopback that stores mails; refuses one domain with 550."""
    sink = DevMailSink(
        Path(tmp_path_factory.mktemp("mails")),
        port=free_port(),
        refuse=lambda address: address.lower().endswith(BOUNCING_DOMAIN),
    )
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
async def notifier(
    test_infra: TestInfrastructure, mail_sink: DevMailSink
) -> AsyncIterator[Running]:
    """The notifier service running on real infrastructure (scheduler ticks driven by tests)."""
    await test_infra.migrate("notifier")
    settings = test_infra.settings(
        Settings,
        smtp_port=mail_sink.port,
        public_base_url="http://podium.test",
        email_backoff_seconds=0.05,
        email_backoff_max_seconds=0.5,
        email_poll_seconds=0.2,
        email_max_attempts=100,
        scheduler_enabled=False,
    )
    service = create_service(settings)
    async with (
        serve(build_app(service)) as url,
        httpx.AsyncClient(base_url=url, auth=auth_for(settings)) as http,
    ):
        yield Running(service, url, http, mail_sink, settings)

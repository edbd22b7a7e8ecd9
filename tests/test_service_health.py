"""Every service starts on real infrastructure and reports readiness honestly (SPEC §5.7)."""

from __future__ import annotations

import importlib

import httpx
import pytest
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure, eventually, serve

SERVICES = ["gateway", "identity", "competitions", "scoring", "ingest", "notifier", "rewards"]
WITH_DATABASE = [s for s in SERVICES if s != "gateway"]


def _app(name: str, test_infra: TestInfrastructure, **overrides: object):  # type: ignore[no-untyped-def]
    config = importlib.import_module(f"podium_{name}.config")
    app_module = importlib.import_module(f"podium_{name}.app")
    settings = test_infra.settings(config.Settings, **overrides)
    return app_module.create_api(settings)


@pytest.fixture(scope="module", autouse=True)
async def migrated(test_infra: TestInfrastructure) -> None:
    await test_infra.migrate()


@pytest.mark.parametrize("name", SERVICES)
async def test_ready_when_dependencies_are_up(name: str, test_infra: TestInfrastructure) -> None:
    async with serve(_app(name, test_infra)) as url, httpx.AsyncClient(base_url=url) as client:
        live = await client.get("/health/live")
        answers: list[httpx.Response] = []

        async def ready_now() -> httpx.Response | None:
            answers.append(await client.get("/health/ready"))
            return answers[-1] if answers[-1].status_code == 200 else None

        # The first check may open the service's first database connection, which on a
        # loaded machine can outlast the check's 2 s; a probe (Kubernetes's) asks again.
        await eventually(ready_now, timeout=30, interval=0.5, message=f"{name} ready")
        metrics = await client.get("/metrics")
    ready = answers[-1]
    assert live.status_code == 200
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert all(check["ok"] for check in checks.values())
    assert {"redis", "broker"} <= set(checks)
    assert ("database" in checks) == (name in WITH_DATABASE)
    assert "podium_http_requests_total" in metrics.text
    if name in WITH_DATABASE:
        assert "podium_outbox_backlog 0.0" in metrics.text
    assert ready.headers["x-request-id"]


@pytest.mark.parametrize("name", WITH_DATABASE)
async def test_not_ready_when_database_is_unreachable(
    name: str, test_infra: TestInfrastructure
) -> None:
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/podium"
    app = _app(name, test_infra, database_url=dead, health_timeout_seconds=3.0)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is True


async def test_gateway_not_ready_when_redis_is_unreachable(test_infra: TestInfrastructure) -> None:
    app = _app("gateway", test_infra, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"]["ok"] is False


async def test_request_id_is_echoed_and_unknown_routes_are_problems(
    test_infra: TestInfrastructure,
) -> None:
    async with serve(_app("gateway", test_infra)) as url, httpx.AsyncClient(base_url=url) as c:
        # Under /v1: other paths belong to the web app's client-side routes.
        response = await c.get("/v1/no/such/route", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "NOT_FOUND"

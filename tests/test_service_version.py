"""`GET /version` on every service (SPEC §10.1): name, package version, build commit."""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

import httpx
import pytest
from podium_runtime.testing import TestInfrastructure

SERVICES = ["gateway", "identity", "competitions", "scoring", "ingest", "notifier", "rewards"]


@pytest.mark.parametrize("name", SERVICES)
async def test_every_service_tells_its_version(
    name: str, test_infra: TestInfrastructure, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PODIUM_BUILD_COMMIT", "abc1234")
    config = importlib.import_module(f"podium_{name}.config")
    app_module = importlib.import_module(f"podium_{name}.app")
    overrides = {"jwt_keys_dir": tmp_path, "jwt_generate_missing_key": True}
    settings = test_infra.settings(
        config.Settings, **{k: v for k, v in overrides.items() if k in config.Settings.model_fields}
    )
    app = app_module.create_api(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        answer = await client.get("/version")
    assert answer.status_code == 200
    assert answer.json() == {
        "service": name,
        "version": importlib.metadata.version(f"podium-{name}"),
        "commit": "abc1234",
    }

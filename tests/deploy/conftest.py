"""Fixtures of the deployment tests: the rendered dev and prod overlays."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_support import OVERLAYS, render


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """Each overlay's name and rendered objects."""
    return request.param, render(request.param)


@pytest.fixture(scope="session")
def dev() -> list[dict[str, Any]]:
    """The rendered dev overlay."""
    return render("dev")


@pytest.fixture(scope="session")
def prod() -> list[dict[str, Any]]:
    """The rendered prod overlay."""
    return render("prod")

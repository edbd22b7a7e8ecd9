"""FastAPI dependencies shared by ingest's routers: its settings and consistency tracker."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from podium_runtime.deps import RuntimeDep

from podium_ingest.config import Settings
from podium_ingest.consistency import ConsistencyTracker


async def settings_of(runtime: RuntimeDep) -> Settings:
    """Return the ingest settings the runtime was built with."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    return settings


SettingsDep = Annotated[Settings, Depends(settings_of)]


async def consistency_of(request: Request) -> ConsistencyTracker:
    """Return the app's consistency tracker (podium_ingest.consistency)."""
    tracker: ConsistencyTracker = request.app.state.consistency
    return tracker


ConsistencyDep = Annotated[ConsistencyTracker, Depends(consistency_of)]

"""Factories of the ingest service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from fastapi import FastAPI
from podium_runtime.runtime import ServiceRuntime

from podium_ingest import consumers, queries, rebuilds
from podium_ingest.api import router
from podium_ingest.config import Settings
from podium_ingest.models import metadata


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.queries.register(*queries.CATALOGUE)
    runtime.etl_details = queries.etl_details
    runtime.include_events(consumers.router)
    return runtime


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers and outbox relay."""
    runtime = create_runtime(settings)
    return runtime.create_app(
        title="Podium ingest",
        description="xAPI statements: raw and flattened storage, LRS queries and reports.",
        routers=[router, rebuilds.router],
    )

"""Factories of the scoring service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from fastapi import FastAPI
from podium_runtime.blobs import BlobStore, create_blob_store
from podium_runtime.runtime import ServiceRuntime

from podium_scoring import consumers, personal_data, queries, tasks
from podium_scoring.api import router
from podium_scoring.config import Settings
from podium_scoring.models import metadata
from podium_scoring.service import Scorer


def create_runtime(settings: Settings, blobs: BlobStore | None = None) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.personal_data.register(*personal_data.RECORDS)
    runtime.queries.register(*queries.CATALOGUE)
    assert runtime.outbox is not None
    store = blobs or create_blob_store(settings.blob)
    scorer = Scorer(blobs=store, outbox=runtime.outbox, settings=settings)
    runtime.include_events(consumers.router, scorer=scorer)
    runtime.background.append(
        tasks.rejected_blob_sweep(
            runtime,
            store,
            settings.rejected_blob_retention_seconds,
            settings.rejected_blob_sweep_seconds,
        )
    )
    return runtime


def create_api(settings: Settings, blobs: BlobStore | None = None) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers and outbox relay."""
    runtime = create_runtime(settings, blobs)
    return runtime.create_app(
        title="Podium scoring",
        description="Validates and scores prediction submissions with numpy.",
        routers=[router],
    )

"""Factories of the ingest service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from podium_runtime.runtime import ServiceRuntime

from podium_ingest import consumers, personal_data, queries, rebuilds
from podium_ingest.api import router
from podium_ingest.config import Settings
from podium_ingest.consistency import ConsistencyTracker
from podium_ingest.documents.api import router as documents_router
from podium_ingest.erasure import consumers as erasure_consumers
from podium_ingest.models import metadata
from podium_ingest.privacy.api import router as privacy_router
from podium_ingest.privacy.commands import retention_task
from podium_ingest.statement_index import StatementIndex


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.personal_data.register(*personal_data.RECORDS)
    runtime.queries.register(*queries.CATALOGUE)
    runtime.etl_details = queries.etl_details
    index = StatementIndex(
        runtime.redis, settings.gateway_redis_key_prefix, settings.statement_index_bits
    )
    runtime.background.append(
        index.keep_built(runtime.db, settings.statement_index_check_seconds)  # type: ignore[arg-type]
    )
    runtime.include_events(consumers.router, erasure_consumers.router, statement_index=index)
    if settings.statement_retention_days is not None:
        runtime.background.append(retention_task(settings, runtime.db))  # type: ignore[arg-type]
    return runtime


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers and outbox relay."""
    runtime = create_runtime(settings)
    consistency = ConsistencyTracker(
        runtime, timedelta(seconds=settings.consistency_publish_window_seconds)
    )

    @asynccontextmanager
    async def close_consistency(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await consistency.close()

    app = runtime.create_app(
        title="Podium ingest",
        description=(
            "xAPI statements: raw and flattened storage, LRS queries and reports; "
            "xAPI documents (State, Activity and Agent Profiles); erasure."
        ),
        routers=[router, documents_router, privacy_router, rebuilds.router],
        extensions=[close_consistency],
    )
    app.state.consistency = consistency
    return app

"""Factories of the gateway service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from fastapi import FastAPI
from podium_runtime.runtime import ServiceRuntime

from podium_gateway.config import Settings


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles."""
    return ServiceRuntime(settings)


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker."""
    runtime = create_runtime(settings)
    return runtime.create_app(
        title="Podium gateway",
        description=(
            "Public HTTP API: authenticates callers, publishes command events, reads projections."
        ),
    )

"""Factories of the competitions service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from fastapi import FastAPI
from podium_runtime.runtime import ServiceRuntime

from podium_competitions.config import Settings
from podium_competitions.models import metadata


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    return ServiceRuntime(settings, metadata)


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers and outbox relay."""
    runtime = create_runtime(settings)
    return runtime.create_app(
        title="Podium competitions",
        description="Competitions, joins and enrollments, and the leaderboard projection.",
    )

"""Factories of the rewards service: `create_service()`, `create_runtime()`, `create_api()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from podium_runtime.runtime import ServiceRuntime

from podium_rewards import consumers, personal_data
from podium_rewards.api import router
from podium_rewards.config import Settings
from podium_rewards.models import metadata
from podium_rewards.scheduler import Scheduler
from podium_rewards.service import Rewards, utc_now


@dataclass
class RewardsService:
    """The runtime plus the rewards use cases and scheduler (tests drive them directly)."""

    runtime: ServiceRuntime
    rewards: Rewards
    scheduler: Scheduler


def create_service(
    settings: Settings, *, clock: Any = utc_now, run_scheduler: bool | None = None
) -> RewardsService:
    """Build the runtime, register handlers and the scheduler."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.personal_data.register(*personal_data.RECORDS)
    assert runtime.outbox is not None
    rewards = Rewards(settings, runtime.outbox, clock)
    scheduler = Scheduler(runtime.db, rewards, interval_seconds=settings.scheduler_interval_seconds)
    runtime.include_events(consumers.router, rewards=rewards)
    if settings.scheduler_enabled if run_scheduler is None else run_scheduler:
        runtime.background.append(scheduler.run)
    return RewardsService(runtime, rewards, scheduler)


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    return create_service(settings).runtime


def build_app(service: RewardsService) -> FastAPI:
    """Build the HTTP app of an assembled service."""
    app = service.runtime.create_app(
        title="Podium rewards",
        description="Point wallets, sweepstakes drawings with provably fair winners, prizes.",
        routers=[router],
    )
    app.state.rewards = service.rewards
    return app


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers, relay and scheduler."""
    return build_app(create_service(settings))

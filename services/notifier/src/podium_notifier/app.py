"""Factories of the notifier service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from podium_runtime.profile_card import PREFERENCES, ProfileCards, attach
from podium_runtime.runtime import ServiceRuntime

from podium_notifier import consumers, ops_api, personal_data, queries
from podium_notifier.api import router
from podium_notifier.config import Settings
from podium_notifier.devsink import DevMailSink
from podium_notifier.erasure import consumers as erasure_consumers
from podium_notifier.live import LivePublisher
from podium_notifier.mail import MailTransport, SmtpTransport
from podium_notifier.models import metadata
from podium_notifier.scheduler import Clock, Scheduler, utc_now
from podium_notifier.sender import EmailSender
from podium_notifier.service import Notifier


@dataclass
class NotifierService:
    """The runtime plus the notifier's own moving parts (tests drive them directly)."""

    runtime: ServiceRuntime
    notifier: Notifier
    sender: EmailSender
    scheduler: Scheduler


def create_service(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    transport: MailTransport | None = None,
    run_scheduler: bool | None = None,
) -> NotifierService:
    """Build the runtime, register handlers and background jobs (sender, scheduler)."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.personal_data.register(*personal_data.RECORDS)
    runtime.queries.register(*queries.CATALOGUE)
    attach(runtime.db, ProfileCards(runtime.redis, PREFERENCES))
    live = LivePublisher(runtime.redis)
    sender = EmailSender(runtime.db, transport or SmtpTransport(settings), settings)
    notifier = Notifier(settings, live, wake_sender=sender.wake)
    scheduler = Scheduler(
        runtime.db, notifier, clock=clock, interval_seconds=settings.scheduler_interval_seconds
    )
    runtime.include_events(consumers.router, erasure_consumers.router, notifier=notifier)
    runtime.background.append(sender.run)
    if settings.scheduler_enabled if run_scheduler is None else run_scheduler:
        runtime.background.append(scheduler.run)
    return NotifierService(runtime, notifier, sender, scheduler)


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    return create_service(settings).runtime


def build_app(service: NotifierService) -> FastAPI:
    """Build the HTTP app of an assembled service (with the dev SMTP sink when enabled)."""
    settings = service.runtime.settings
    assert isinstance(settings, Settings)
    if settings.dev_smtp_sink:
        sink = DevMailSink(settings.dev_mail_dir, settings.smtp_host, settings.smtp_port)

        async def run_sink() -> None:
            import asyncio

            sink.start()
            try:
                await asyncio.Event().wait()
            finally:
                sink.stop()

        service.runtime.background.insert(0, run_sink)
    app = service.runtime.create_app(
        title="Podium notifier",
        description="In-app inbox, e-mail, live push and scheduled reminders.",
        routers=[router, ops_api.router],
    )
    app.state.scheduler = service.scheduler
    return app


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers, sender and scheduler."""
    return build_app(create_service(settings))

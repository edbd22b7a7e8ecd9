"""Settings of the notifier service (env prefix `PODIUM_NOTIFIER_`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from podium_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Notifier settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_NOTIFIER_", extra="ignore")

    service_name: str = "notifier"
    port: int = 8005
    #: Base of the links put in e-mails (the web client; `make dev` has no separate one).
    public_base_url: str = "http://127.0.0.1:8000"
    #: SMTP relay the e-mail channel hands mail to (SPEC §7.4).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_start_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Podium <no-reply@podium.local>"
    #: E-mail outbox: attempts before a mail is dead-lettered, and the backoff between them.
    email_max_attempts: int = 8
    email_backoff_seconds: float = 5.0
    email_backoff_max_seconds: float = 900.0
    email_batch_size: int = 50
    email_poll_seconds: float = 2.0
    #: Start the development SMTP sink inside this process (`make dev`), storing mails here.
    dev_smtp_sink: bool = False
    dev_mail_dir: Path = Path(".podium/mails")
    #: How often the scheduler looks for due reminders (SPEC §7.4).
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = 30.0
    #: Local hour of the daily reminder, in each participant's own timezone (SPEC §7.4).
    daily_reminder_hour: int = 18
    #: "Starting soon" / "ending soon" notices go out this long before the instant.
    soon_window_hours: float = 24.0
    #: At most one rank-change notification per user and competition in this window.
    rank_debounce_minutes: float = 30.0


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

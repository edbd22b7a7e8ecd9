"""Settings of the rewards service (env prefix `PODIUM_REWARDS_`)."""

from __future__ import annotations

from functools import lru_cache

from podium_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Rewards settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_REWARDS_", extra="ignore")

    service_name: str = "rewards"
    port: int = 8006
    #: Days after which earned points expire (oldest first); 0 keeps them forever.
    points_expire_after_days: int = 365
    #: `GET /v1/wallet` lists the points expiring within this many days.
    expiring_soon_days: int = 30
    #: Days a winner of a physical prize has to give an address before the reminder.
    claim_reminder_days: int = 7
    #: Days after which an unclaimed physical prize is forfeited and redrawn.
    claim_forfeit_days: int = 14
    #: Run the scheduler (time-driven drawing transitions, reminders, forfeits, expiry).
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = 15.0
    #: Largest quantity of tickets one purchase may ask for.
    max_tickets_per_purchase: int = 1000


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

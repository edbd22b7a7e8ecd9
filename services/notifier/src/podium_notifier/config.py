"""Settings of the notifier service (env prefix `PODIUM_NOTIFIER_`)."""

from __future__ import annotations

from functools import lru_cache

from podium_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Notifier settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_NOTIFIER_", extra="ignore")

    service_name: str = "notifier"
    port: int = 8005


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

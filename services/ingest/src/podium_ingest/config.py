"""Settings of the ingest service (env prefix `PODIUM_INGEST_`)."""

from __future__ import annotations

from functools import lru_cache

from podium_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Ingest settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_INGEST_", extra="ignore")

    service_name: str = "ingest"
    port: int = 8004


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

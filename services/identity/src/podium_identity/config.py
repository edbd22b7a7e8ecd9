"""Settings of the identity service (env prefix `PODIUM_IDENTITY_`)."""

from __future__ import annotations

from functools import lru_cache

from podium_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Identity settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8001


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

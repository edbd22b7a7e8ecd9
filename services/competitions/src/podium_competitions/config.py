"""Settings of the competitions service (env prefix `PODIUM_COMPETITIONS_`)."""

from __future__ import annotations

from functools import lru_cache

from podium_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Competitions settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_COMPETITIONS_", extra="ignore")

    service_name: str = "competitions"
    port: int = 8002
    #: Seconds between sweeps that end active competitions past `ends_at` (SPEC §5.2).
    auto_end_interval_seconds: float = 5.0
    #: Seconds between checks that every Redis board matches Postgres (ADR 0031).
    mirror_audit_interval_seconds: float = 30.0


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

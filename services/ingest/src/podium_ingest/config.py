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
    #: Actors with `account.homePage` equal to this URL carry a Podium user id (SPEC §7.3).
    platform_url: str = "http://127.0.0.1:8000"
    #: Largest page the statement query returns (xAPI lets the LRS cap `limit`).
    max_page_size: int = 500
    #: Most `xapi.statements.received` events applied in one transaction.
    consumer_batch_size: int = 500
    #: The gateway's Redis key prefix, to release claims of statements ingest refused.
    gateway_redis_key_prefix: str = "podium:gateway:"


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

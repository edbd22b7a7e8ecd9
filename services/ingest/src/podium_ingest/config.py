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
    #: A busy ingest commits a poll every few milliseconds; its learning facts go out
    #: together, at most one relay pass per 50 ms instead of one per poll (ADR 0113).
    outbox_relay_gather_ms: int = 50
    #: The gateway's Redis key prefix, to release claims of statements ingest refused.
    gateway_redis_key_prefix: str = "podium:gateway:"
    #: Size in bits of the stored-ids index the gateway reads before asking the store
    #: (docs/adr/0059): 2 MiB keeps false positives near 1 in 500 up to a million
    #: statements; past that the gateway asks the store more often, never wrongly.
    statement_index_bits: int = 1 << 24
    #: How often ingest checks that the index exists, and rebuilds it when it does not.
    statement_index_check_seconds: float = 30.0
    #: Longest a gateway takes from stamping `stored` to Kafka's acknowledgement; the
    #: consistent-through instant stays this far behind (podium_ingest.consistency).
    #: Must be at least the gateway's `xapi_publish_window_seconds`.
    consistency_publish_window_seconds: float = 5.0
    #: Days a statement is kept after it was stored; None keeps statements forever.
    #: Applied by a background job every `retention_interval_seconds` and by `purge`.
    statement_retention_days: int | None = None
    retention_interval_seconds: float = 3600.0


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

"""Settings of the scoring service (env prefix `PODIUM_SCORING_`)."""

from __future__ import annotations

from functools import lru_cache

from podium_runtime.blobs import BlobSettings
from podium_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Scoring settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_SCORING_", extra="ignore")

    service_name: str = "scoring"
    port: int = 8003
    #: Largest prediction file scored; bigger ones are rejected with TOO_LARGE (SPEC §7.1).
    max_submission_bytes: int = 50 * 1024 * 1024
    #: Largest answer key loaded.
    max_answer_key_bytes: int = 500 * 1024 * 1024
    #: Answer keys kept parsed in memory (least recently used ones are dropped).
    answer_key_cache_size: int = 32
    #: Most received submissions scored in one unit of work (ADR 0063). The first of a
    #: poll waits for the others' scoring before its commit, so a small group keeps
    #: that wait short while still sharing the commit, the outbox insert and the
    #: offset commit.
    submission_batch_size: int = Field(default=8, ge=1, le=500)
    #: Where uploads lie; read from `PODIUM_BLOB_*` (shared with the gateway).
    blob: BlobSettings = Field(default_factory=BlobSettings)
    #: Seconds a rejected submission's file is kept before it is deleted (ADR 0057);
    #: 0 deletes it at the next sweep. Its errors stay readable.
    rejected_blob_retention_seconds: float = Field(default=24 * 3600, ge=0)
    #: Seconds between two sweeps for rejected files past their retention.
    rejected_blob_sweep_seconds: float = Field(default=60.0, gt=0)


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

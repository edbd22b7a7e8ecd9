"""Settings of the gateway service (env prefix `PODIUM_GATEWAY_`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from podium_runtime.blobs import BlobSettings
from podium_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Gateway settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000

    # Internal services the gateway may call synchronously (SPEC §6).
    identity_url: str = "http://127.0.0.1:8001"
    competitions_url: str = "http://127.0.0.1:8002"
    scoring_url: str = "http://127.0.0.1:8003"
    ingest_url: str = "http://127.0.0.1:8004"
    #: Longest from stamping a statement's `stored` to Kafka's acknowledgement; slower
    #: publications are refused (503) so ingest's consistent-through stays honest.
    #: Must not exceed ingest's `consistency_publish_window_seconds`.
    xapi_publish_window_seconds: float = 5.0
    #: The version an xAPI answer names when the request named none (its 400 says which
    #: version this LRS speaks by default): 1.0.3 (SPEC §5.4) or 2.0.0.
    xapi_default_version: Literal["1.0.3", "2.0.0"] = "1.0.3"
    notifier_url: str = "http://127.0.0.1:8005"
    rewards_url: str = "http://127.0.0.1:8006"
    #: Seconds an internal call may take before the gateway answers 503.
    internal_timeout_seconds: float = 10.0

    #: The platform's public URL (xAPI actor `homePage`, links in responses).
    public_base_url: str = "http://127.0.0.1:8000"

    #: The built web app (`web/dist`); unset means the source tree's `web/dist`.
    web_root: Path | None = None
    #: Send the refresh-token cookie with `Secure` (browsers accept it on http://localhost).
    refresh_cookie_secure: bool = True

    # Edge protection (SPEC §8).
    #: Origins allowed by CORS; empty means no cross-origin browser access.
    cors_origins: list[str] = []
    #: Largest accepted request body for JSON and other ordinary requests.
    max_body_bytes: int = 1_048_576
    #: Largest accepted body for file uploads (multipart/form-data, text/csv).
    max_upload_bytes: int = 64 * 1_048_576
    #: Largest competition data file (streamed to the blob store, never held in memory).
    max_dataset_bytes: int = 20 * 1024 * 1_048_576
    #: How long a presigned download URL of a data file lives (S3 blob store only).
    dataset_url_seconds: int = 300
    #: How long a personal-data export can be downloaded before it is deleted (ADR 0058).
    export_ttl_seconds: int = Field(default=48 * 3600, ge=60)
    #: How long one download link of an export works (S3: the presigned URL's life too).
    export_link_seconds: int = Field(default=600, ge=10)
    #: Send HSTS even when the request did not arrive over https (behind a TLS proxy).
    force_hsts: bool = False
    #: CIDRs of the proxies in front of the gateway (ingress, load balancer). From them
    #: only, `X-Forwarded-For` names the client: its right-most untrusted address.
    trusted_proxies: list[str] = []

    # Rate limits (Redis, fixed windows): requests per window.
    #: Prefix of every gateway key in Redis (lets test runs share one Redis).
    redis_key_prefix: str = "podium:gateway:"
    rate_limit_user: int = 600
    rate_limit_user_window_seconds: int = 60
    rate_limit_ip: int = 300
    rate_limit_ip_window_seconds: int = 60
    #: Requests per LRS client and window: an LMS replaying a term of statements or a
    #: class of 300 course players saving state at once stays far below it.
    rate_limit_lrs_client: int = 6000
    rate_limit_lrs_client_window_seconds: int = 10
    #: Per-client overrides, LRS client id -> requests per window (e.g. a bulk importer);
    #: from the environment as JSON: `PODIUM_GATEWAY_RATE_LIMIT_LRS_CLIENTS='{"<id>": 50000}'`.
    rate_limit_lrs_clients: dict[str, int] = {}
    #: Login attempts per client IP (the per-account lockout lives in identity).
    rate_limit_login_ip: int = 50
    rate_limit_login_ip_window_seconds: int = 300
    #: Refused xAPI Basic credentials per client IP and LRS key: past it, that key is not
    #: checked from that address until the window ends (429), so secrets cannot be guessed
    #: at request speed, and a stranger behind the same ingress cannot lock out other tools.
    rate_limit_lrs_auth_failures: int = 20
    rate_limit_lrs_auth_failures_window_seconds: int = 300

    # Token verification (SPEC §8).
    #: Seconds the JWKS stays cached before a background refetch on next use.
    jwks_cache_seconds: float = 300.0
    #: Minimum seconds between refetches triggered by an unknown `kid`.
    jwks_refetch_min_seconds: float = 5.0
    #: Clock skew tolerated when checking `exp`/`iat`.
    jwt_leeway_seconds: float = 5.0
    #: Seconds a verified (or refused) LRS credential stays cached; bounds revocation delay.
    lrs_cache_seconds: float = 5.0

    # Submissions (SPEC §5.3).
    #: Largest prediction file or answer key accepted; larger ones are 413 `PAYLOAD_TOO_LARGE`.
    max_submission_bytes: int = 50 * 1_048_576
    #: Rejected uploads a participant may make per competition and UTC day. Rejected
    #: files give their daily slot back (SPEC §7.1), so this separate limit is what
    #: bounds uploads that are never valid; above it uploads answer 429.
    daily_rejected_upload_limit: int = Field(default=20, ge=1)
    #: Where uploads are stored; read from `PODIUM_BLOB_*` (shared with scoring).
    blob: BlobSettings = Field(default_factory=BlobSettings)


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

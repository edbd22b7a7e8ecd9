"""Settings of the identity service (env prefix `PODIUM_IDENTITY_`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from podium_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Identity settings; infrastructure URLs come from the shared environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8001

    # Signing keys (SPEC §8). Every key is published in the JWKS; only the active one signs,
    # so a new key is rolled out first (published), then made active.
    #: Directory of PEM files `<kid>.pem` (private keys; public-only PEMs verify, never sign).
    jwt_keys_dir: Path | None = None
    #: One private key in PEM form, for deployments that pass keys through the environment.
    jwt_private_key: SecretStr | None = None
    #: Key id of `jwt_private_key`.
    jwt_private_key_kid: str = "env-1"
    #: The kid that signs new tokens; default: the last kid in name order with a private key.
    jwt_active_kid: str | None = None
    #: Create a key in an empty `jwt_keys_dir` (development only: `make dev` sets it).
    jwt_generate_missing_key: bool = False
    jwt_issuer: str = "podium"

    access_token_seconds: int = 15 * 60
    refresh_token_seconds: int = 7 * 24 * 3600
    email_verification_token_seconds: int = 48 * 3600
    password_reset_token_seconds: int = 3600
    #: Refuse login until the e-mail address is verified (off in dev, SPEC §5.1).
    require_verified_email: bool = False

    # argon2id parameters (RFC 9106 second recommended option is t=3, m=64 MiB).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # Lockout per account (SPEC §5.1): N failures within the window lock the account.
    lockout_max_failures: int = 5
    lockout_window_seconds: int = 15 * 60
    lockout_seconds: int = 15 * 60
    #: Prefix of identity's keys in Redis (lets test runs share one Redis).
    redis_key_prefix: str = "podium:identity:"

    # First admin, ensured at start-up when both are set (SPEC §5.1).
    admin_email: str | None = Field(
        default=None, validation_alias=AliasChoices("PODIUM_ADMIN_EMAIL", "admin_email")
    )
    admin_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PODIUM_ADMIN_PASSWORD", "admin_password")
    )


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

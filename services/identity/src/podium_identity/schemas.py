"""Request and response documents of the identity API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from podium_runtime.audit import AuditEntry
from pydantic import BaseModel, ConfigDict, Field

# xAPI Communication 4.2 scopes.
LrsScope = Literal[
    "all",
    "all/read",
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "define",
    "profile",
]


class RegisterRequest(BaseModel):
    """A new account; rules are checked by the service so each failure is named."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    display_name: str = Field(max_length=200)
    timezone: str | None = Field(default=None, max_length=64)


class LoginRequest(BaseModel):
    """E-mail and password."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshRequest(BaseModel):
    """A refresh token."""

    refresh_token: str = Field(max_length=512)


class TokenRequest(BaseModel):
    """A single-use token from an e-mail."""

    token: str = Field(max_length=512)


class ForgotPasswordRequest(BaseModel):
    """The e-mail of the account."""

    email: str = Field(max_length=320)


class ResetPasswordRequest(BaseModel):
    """A reset token and the new password."""

    token: str = Field(max_length=512)
    password: str = Field(max_length=1024)


class ProfilePatch(BaseModel):
    """Profile fields to change."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)


class UserOut(BaseModel):
    """A user's profile."""

    id: uuid.UUID
    email: str
    display_name: str
    timezone: str
    role: Literal["user", "admin"]
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> UserOut:
        """Build from a `users` row."""
        return cls(
            id=row.id,
            email=row.email,
            display_name=row.display_name,
            timezone=row.timezone,
            role=row.role,
            email_verified=row.email_verified_at is not None,
            created_at=row.created_at,
        )


class TokenPairOut(BaseModel):
    """Access and refresh tokens."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class LrsClientCreate(BaseModel):
    """New xAPI credentials."""

    name: str = Field(max_length=200)
    scopes: list[LrsScope] = Field(min_length=1)


class LrsClientOut(BaseModel):
    """An LRS client without its secret."""

    id: uuid.UUID
    name: str
    key: str
    scopes: list[LrsScope]
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> LrsClientOut:
        """Build from an `lrs_clients` row."""
        return cls(
            id=row.id,
            name=row.name,
            key=row.key,
            scopes=list(row.scopes),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


class LrsClientCreated(LrsClientOut):
    """A new LRS client with its secret, shown once."""

    secret: str


class LrsClientList(BaseModel):
    """LRS clients, newest first."""

    items: list[LrsClientOut]


class LrsCredentials(BaseModel):
    """Basic credentials the gateway asks identity to verify."""

    key: str = Field(max_length=200)
    secret: str = Field(max_length=200)


class VerifiedLrsClient(BaseModel):
    """What the gateway needs to know about a verified LRS client."""

    client_id: uuid.UUID
    name: str
    scopes: list[LrsScope]


# --- administration (SPEC §10.5) -------------------------------------------------


class AdminUserOut(UserOut):
    """A user as administrators see it."""

    disabled: bool
    disabled_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> AdminUserOut:
        """Build from a `users` row."""
        return cls(
            **UserOut.of(row).model_dump(),
            disabled=row.disabled_at is not None,
            disabled_at=row.disabled_at,
            updated_at=row.updated_at,
        )


class UserAccess(BaseModel):
    """What a user may do now: the role and whether the account is disabled (ADR 0052)."""

    user_id: uuid.UUID
    role: Literal["user", "admin"]
    disabled: bool


class AdminUserPage(BaseModel):
    """One page of users."""

    items: list[AdminUserOut]
    next_cursor: str | None


class AdminUserPatch(BaseModel):
    """What an administrator may change about a user."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "admin"] | None = None
    disabled: bool | None = None


class AuditPage(BaseModel):
    """One page of audit entries, newest first."""

    items: list[AuditEntry]
    next_cursor: str | None


class AuditLookup(BaseModel):
    """Which targets to look up the latest entry of."""

    model_config = ConfigDict(extra="forbid")

    target_type: str = Field(max_length=50)
    target_ids: list[str] = Field(max_length=10_000)


class AuditLatest(BaseModel):
    """The newest entry of each target that has one."""

    items: dict[str, AuditEntry]


class AuditRecorded(BaseModel):
    """Whether the entry was new (False: already recorded with this id)."""

    recorded: bool


def audit_entry_of(row: Any) -> AuditEntry:
    """Build an entry from an `audit_log` row."""
    return AuditEntry(
        id=row.id,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        before=row.before,
        after=row.after,
        request_id=row.request_id,
        service=row.service,
        at=row.at,
    )

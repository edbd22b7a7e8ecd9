"""Documents of the account routes, for OpenAPI; identity validates the rules (SPEC §5.1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

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
    """A new account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.org",
                    "password": "correct horse battery 9",
                    "display_name": "Ada",
                    "timezone": "Europe/Paris",
                }
            ]
        }
    )

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    display_name: str = Field(max_length=200)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone")


class UserDocument(BaseModel):
    """A user's profile."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4b0c3a56-5b0b-4f0e-9a57-0c1d2e3f4a5b",
                    "email": "ada@example.org",
                    "display_name": "Ada",
                    "timezone": "Europe/Paris",
                    "role": "user",
                    "email_verified": False,
                    "notification_preferences": {},
                    "created_at": "2026-01-05T10:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    email: str
    display_name: str
    timezone: str
    role: Literal["user", "admin"]
    email_verified: bool
    notification_preferences: dict[str, dict[str, bool]] | None = Field(
        default=None, description="Per type and channel; kept by the notifier (null if unreachable)"
    )
    created_at: datetime


class LoginRequest(BaseModel):
    """E-mail and password."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.org", "password": "correct horse battery 9"}]
        }
    )

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenPair(BaseModel):
    """An access token (RS256 JWT, 15 minutes) and an opaque refresh token (7 days)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9...",
                    "refresh_token": "rt_3q2-7wFZ...",
                    "token_type": "Bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class RefreshRequest(BaseModel):
    """A refresh token to rotate or revoke; browsers omit it and send the session cookie."""

    refresh_token: str | None = Field(
        default=None, max_length=512, description="Absent: the `podium_refresh` cookie is used"
    )


class TokenRequest(BaseModel):
    """A single-use token received by e-mail."""

    token: str = Field(max_length=512)


class ForgotPasswordRequest(BaseModel):
    """The e-mail of the account whose password was forgotten."""

    email: str = Field(max_length=320)


class ResetPasswordRequest(BaseModel):
    """A reset token and the new password."""

    token: str = Field(max_length=512)
    password: str = Field(max_length=1024)


class ProfilePatch(BaseModel):
    """Profile fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "display_name": "Ada L.",
                    "timezone": "America/New_York",
                    "notification_preferences": {"submission.scored": {"email": False}},
                }
            ]
        },
    )

    display_name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    notification_preferences: dict[str, dict[str, bool]] | None = None


class LrsClientCreate(BaseModel):
    """New xAPI credentials."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Moodle", "scopes": ["statements/write"]}]}
    )

    name: str = Field(max_length=200)
    scopes: list[LrsScope] = Field(min_length=1)


class LrsClientDocument(BaseModel):
    """An LRS client (its secret is never shown again after creation)."""

    id: uuid.UUID
    name: str
    key: str
    scopes: list[LrsScope]
    created_at: datetime
    revoked_at: datetime | None = None


class LrsClientCreated(LrsClientDocument):
    """A new LRS client with its secret, shown this one time."""

    secret: str


class LrsClientList(BaseModel):
    """LRS clients, newest first."""

    items: list[LrsClientDocument]


class Jwks(BaseModel):
    """JSON Web Key Set of the access-token signing keys."""

    keys: list[dict[str, Any]]

"""Request and response models of the notifier's internal read API (SPEC §5.6, §6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    """One in-app notification; `seq` is its position in the inbox and its SSE event id."""

    id: uuid.UUID
    seq: int
    type: str
    title: str
    body: str
    link: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    """A page of the inbox, newest first (oldest first when read with `after`)."""

    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class ChannelChoice(BaseModel):
    """A user's choice for one notification type; omitted channels keep their value."""

    model_config = ConfigDict(extra="forbid")

    in_app: bool | None = None
    email: bool | None = None


class PreferencesIn(BaseModel):
    """Partial update of the preference matrix: `{type: {channel: bool}}`."""

    model_config = ConfigDict(extra="forbid")

    preferences: dict[str, ChannelChoice] = Field(default_factory=dict)


class PreferencesOut(BaseModel):
    """The full preference matrix with defaults filled in."""

    preferences: dict[str, dict[str, bool]]
    mandatory: list[str] = Field(
        description="Types always sent by e-mail whatever the preferences (account security)."
    )


class DevMail(BaseModel):
    """A mail received by the development SMTP sink."""

    id: str
    envelope_to: list[str]
    to: str
    subject: str
    text: str
    html: str | None
    links: list[str]

"""Notification routes: the caller's inbox and preferences, read from the notifier (SPEC §5.6, §6).

The gateway authenticates the caller and asks the notifier's internal API for
that user's data only, so another user's notification is a 404 (SPEC §8).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import UserDep
from podium_gateway.clients import HttpDep, SettingsDep, call, relay
from podium_gateway.documents import Notification, NotificationPage, Preferences

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


class ChannelChoice(BaseModel):
    """Channels of one notification type; omitted channels keep their value."""

    model_config = ConfigDict(extra="forbid")

    in_app: bool | None = None
    email: bool | None = None


class PreferencesUpdate(BaseModel):
    """Partial update `{type: {in_app?, email?}}`; the notifier refuses unknown types (422)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"preferences": {"submission.scored": {"email": False}}}]},
    )

    preferences: dict[str, ChannelChoice] = Field(default_factory=dict)


def _url(settings: Any, user: Any, path: str = "") -> str:
    return f"{settings.notifier_url}/internal/users/{user.user_id}{path}"


@router.get("", summary="My inbox, newest first", response_model=NotificationPage)
async def list_notifications(
    user: UserDep,
    http: HttpDep,
    settings: SettingsDep,
    unread: Annotated[bool, Query(description="only unread notifications")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Return `{items, next_cursor, unread_count}` for the caller."""
    params: dict[str, Any] = {"unread": str(unread).lower(), "limit": limit}
    if cursor:
        params["cursor"] = cursor
    response = await call(
        http, "GET", _url(settings, user, "/notifications"), service="notifier", params=params
    )
    return relay(response)


@router.get("/preferences", summary="My notification preferences", response_model=Preferences)
async def get_preferences(user: UserDep, http: HttpDep, settings: SettingsDep) -> Response:
    """Return the caller's preference matrix per type and channel (in_app, email)."""
    return relay(await call(http, "GET", _url(settings, user, "/preferences"), service="notifier"))


@router.put(
    "/preferences", summary="Change my notification preferences", response_model=Preferences
)
async def put_preferences(
    body: PreferencesUpdate, user: UserDep, http: HttpDep, settings: SettingsDep
) -> Response:
    """Change some preferences; the answer is the whole matrix."""
    response = await call(
        http,
        "PUT",
        _url(settings, user, "/preferences"),
        service="notifier",
        json=body.model_dump(exclude_none=True),
    )
    return relay(response)


@router.post(
    "/{notification_id}/read", summary="Mark a notification read", response_model=Notification
)
async def mark_read(
    notification_id: uuid.UUID, user: UserDep, http: HttpDep, settings: SettingsDep
) -> Response:
    """Mark one of the caller's notifications read; anyone else's is 404."""
    response = await call(
        http,
        "POST",
        _url(settings, user, f"/notifications/{notification_id}/read"),
        service="notifier",
    )
    return relay(response)

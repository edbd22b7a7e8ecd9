"""Notification routes: the caller's inbox and preferences, read from the notifier (SPEC §5.6, §6).

The gateway authenticates the caller and asks the notifier's internal API for
that user's data only, so another user's notification is a 404 (SPEC §8).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import UserDep
from podium_gateway.clients import relay
from podium_gateway.clients.notifier import NotifierDep
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


@router.get("", summary="My inbox, newest first", response_model=NotificationPage)
async def list_notifications(
    user: UserDep,
    notifier: NotifierDep,
    unread: Annotated[bool, Query(description="only unread notifications")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Return `{items, next_cursor, unread_count}` for the caller."""
    return relay(
        await notifier.notifications(
            user.user_id, unread=str(unread).lower(), limit=limit, cursor=cursor or None
        )
    )


@router.get("/preferences", summary="My notification preferences", response_model=Preferences)
async def get_preferences(user: UserDep, notifier: NotifierDep) -> Response:
    """Return the caller's preference matrix per type and channel (in_app, email)."""
    return relay(await notifier.preferences(user.user_id))


@router.put(
    "/preferences", summary="Change my notification preferences", response_model=Preferences
)
async def put_preferences(
    body: PreferencesUpdate, user: UserDep, notifier: NotifierDep
) -> Response:
    """Change some preferences; the answer is the whole matrix."""
    changes = body.model_dump(exclude_none=True)["preferences"]
    return relay(await notifier.change_preferences(user.user_id, changes))


@router.post(
    "/{notification_id}/read", summary="Mark a notification read", response_model=Notification
)
async def mark_read(notification_id: uuid.UUID, user: UserDep, notifier: NotifierDep) -> Response:
    """Mark one of the caller's notifications read; anyone else's is 404."""
    return relay(await notifier.mark_read(user.user_id, notification_id))

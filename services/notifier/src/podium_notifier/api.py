"""Internal read API of the notifier, called only by the gateway (SPEC §6); thin over service.py.

Every route is scoped by the user id the gateway authenticated, and a
notification that is not that user's is answered 404 (SPEC §8).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from podium_runtime.cursors import CursorCodec
from podium_runtime.deps import SessionDep
from podium_runtime.problems import Problem
from podium_runtime.profile_card import refill

from podium_notifier import domain, profile_card, service
from podium_notifier.config import Settings
from podium_notifier.devsink import read_mails
from podium_notifier.repositories import inbox
from podium_notifier.schemas import (
    DevMail,
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
)

router = APIRouter(prefix="/internal", tags=["internal"])


#: Inbox pages continue below the `seq` of their last notification.
INBOX_CURSOR = CursorCodec(int)


@router.get("/users/{user_id}/notifications", response_model=NotificationPage)
async def list_notifications(
    session: SessionDep,
    user_id: uuid.UUID,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this seq (SSE)")] = None,
) -> dict[str, Any]:
    """Return a page of the user's inbox."""
    before = INBOX_CURSOR.decode(cursor)[0] if cursor else None
    rows = await inbox.list_notifications(
        session,
        user_id,
        unread_only=unread,
        limit=limit + 1,
        before_seq=before,
        after_seq=after,
    )
    unread_count = await inbox.count_unread(session, user_id)
    page = rows[:limit]
    more = len(rows) > limit and after is None
    return {
        "items": [service.notification_view(r) for r in page],
        "next_cursor": INBOX_CURSOR.encode(page[-1].seq) if more else None,
        "unread_count": unread_count,
    }


@router.post(
    "/users/{user_id}/notifications/{notification_id}/read", response_model=NotificationOut
)
async def mark_read(session: SessionDep, user_id: uuid.UUID, notification_id: uuid.UUID) -> Any:
    """Mark one of the user's notifications read (idempotent)."""
    return await service.mark_read(session, user_id, notification_id)


def _preferences(matrix: dict[str, Any]) -> dict[str, Any]:
    return {"preferences": matrix, "mandatory": sorted(domain.MANDATORY_TYPES)}


@router.get("/users/{user_id}/preferences", response_model=PreferencesOut)
async def get_preferences(session: SessionDep, user_id: uuid.UUID) -> dict[str, Any]:
    """Return the user's preference matrix (their profile card's part is written from it)."""
    matrix = await refill(
        session,
        user_id,
        lambda: service.preferences_view(session, user_id),
        profile_card.preferences_part,
    )
    return _preferences(matrix)


@router.put("/users/{user_id}/preferences", response_model=PreferencesOut)
async def put_preferences(
    session: SessionDep, user_id: uuid.UUID, body: PreferencesIn
) -> dict[str, Any]:
    """Change some of the user's preferences; the rest keep their value."""
    changes = {k: v.model_dump(exclude_none=True) for k, v in body.preferences.items()}
    return _preferences(await service.update_preferences(session, user_id, changes))


@router.get("/dev/mails", response_model=list[DevMail])
async def dev_mails(request: Request, to: str | None = None) -> list[dict[str, Any]]:
    """List the mails the development SMTP sink received (only when the sink is on)."""
    settings: Settings = request.app.state.runtime.settings
    if not settings.dev_smtp_sink:
        raise Problem(404, "NOT_FOUND", "The development mail sink is not enabled.")
    return read_mails(settings.dev_mail_dir, to)

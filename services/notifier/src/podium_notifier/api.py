"""Internal read API of the notifier, called only by the gateway (SPEC §6); thin over service.py.

Every route is scoped by the user id the gateway authenticated, and a
notification that is not that user's is answered 404 (SPEC §8).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from podium_runtime.problems import Problem
from podium_runtime.runtime import ServiceRuntime

from podium_notifier import domain, service
from podium_notifier import repository as repo
from podium_notifier.config import Settings
from podium_notifier.devsink import read_mails
from podium_notifier.schemas import (
    DevMail,
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
)

router = APIRouter(prefix="/internal", tags=["internal"])


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def encode_cursor(seq: int) -> str:
    """Return the opaque cursor pointing below inbox position `seq`."""
    return base64.urlsafe_b64encode(f"n:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the inbox position of a cursor; a malformed one is a 422 `INVALID_CURSOR`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "n":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Problem(422, "INVALID_CURSOR", "The cursor is not one this API returned.") from exc


@router.get("/users/{user_id}/notifications", response_model=NotificationPage)
async def list_notifications(
    request: Request,
    user_id: uuid.UUID,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this seq (SSE)")] = None,
) -> dict[str, Any]:
    """Return a page of the user's inbox."""
    before = decode_cursor(cursor) if cursor else None
    async with _runtime(request).db.session() as session:
        rows = await repo.list_notifications(
            session,
            user_id,
            unread_only=unread,
            limit=limit + 1,
            before_seq=before,
            after_seq=after,
        )
        unread_count = await repo.count_unread(session, user_id)
    page = rows[:limit]
    more = len(rows) > limit and after is None
    return {
        "items": [service.notification_view(r) for r in page],
        "next_cursor": encode_cursor(page[-1].seq) if more else None,
        "unread_count": unread_count,
    }


@router.post(
    "/users/{user_id}/notifications/{notification_id}/read", response_model=NotificationOut
)
async def mark_read(request: Request, user_id: uuid.UUID, notification_id: uuid.UUID) -> Any:
    """Mark one of the user's notifications read (idempotent)."""
    try:
        async with _runtime(request).db.session() as session:
            return await service.mark_read(session, user_id, notification_id)
    except service.NotFound as exc:
        raise Problem(404, "NOTIFICATION_NOT_FOUND", "No such notification.") from exc


def _preferences(matrix: dict[str, Any]) -> dict[str, Any]:
    return {"preferences": matrix, "mandatory": sorted(domain.MANDATORY_TYPES)}


@router.get("/users/{user_id}/preferences", response_model=PreferencesOut)
async def get_preferences(request: Request, user_id: uuid.UUID) -> dict[str, Any]:
    """Return the user's preference matrix."""
    async with _runtime(request).db.session() as session:
        return _preferences(await service.preferences_view(session, user_id))


@router.put("/users/{user_id}/preferences", response_model=PreferencesOut)
async def put_preferences(
    request: Request, user_id: uuid.UUID, body: PreferencesIn
) -> dict[str, Any]:
    """Change some of the user's preferences; the rest keep their value."""
    changes = {k: v.model_dump(exclude_none=True) for k, v in body.preferences.items()}
    try:
        async with _runtime(request).db.session() as session:
            return _preferences(await service.update_preferences(session, user_id, changes))
    except service.UnknownNotificationType as exc:
        raise Problem(
            422,
            "UNKNOWN_NOTIFICATION_TYPE",
            "Preferences name an unknown notification type or channel.",
            errors=exc.errors,
        ) from exc


@router.get("/dev/mails", response_model=list[DevMail])
async def dev_mails(request: Request, to: str | None = None) -> list[dict[str, Any]]:
    """List the mails the development SMTP sink received (only when the sink is on)."""
    settings: Settings = request.app.state.runtime.settings
    if not settings.dev_smtp_sink:
        raise Problem(404, "NOT_FOUND", "The development mail sink is not enabled.")
    return read_mails(settings.dev_mail_dir, to)

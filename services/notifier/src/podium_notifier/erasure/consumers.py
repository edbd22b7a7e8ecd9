"""Event handlers of the erasure (thin)."""

from __future__ import annotations

import logging

from podium_contracts.events import UserDeleted
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier import profile_card
from podium_notifier.erasure import repository

log = logging.getLogger(__name__)

router = EventRouter()


@router.handles(UserDeleted)
async def on_user_deleted(session: AsyncSession, event: UserDeleted) -> None:
    """Delete the user's notifications, e-mails, preferences and projections."""
    deleted = await repository.delete_user_rows(session, event.data.user_id)
    profile_card.preferences_erased(session, event.data.user_id)
    log.info("user erased", extra={"user_id": str(event.data.user_id), "rows": deleted})

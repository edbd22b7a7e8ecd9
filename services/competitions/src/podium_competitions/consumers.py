"""Event handlers of the competitions service (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import JoinRequested, UserRegistered, UserUpdated
from podium_runtime.outbox import Outbox
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import enrollments, service

router = EventRouter()


# Joins arrive in bursts: a poll's requests are decided in one unit of work with
# a few bulk statements; should it fail, the runtime decides them one by one.
@router.handles_batch(JoinRequested)
async def on_join_requested(
    session: AsyncSession, events: list[JoinRequested], *, outbox: Outbox
) -> None:
    """Decide a poll's join requests in order and emit the outcomes (SPEC §5.2)."""
    await enrollments.decide_joins(session, outbox, [event.data for event in events])


@router.handles(UserRegistered, UserUpdated)
async def on_user_changed(session: AsyncSession, event: UserRegistered | UserUpdated) -> None:
    """Keep the users projection (display names for rosters and boards)."""
    await service.record_user(session, event.data)

"""Event handlers of the competitions service (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import JoinRequested, UserRegistered, UserUpdated
from podium_runtime.runtime import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import service


def register(runtime: ServiceRuntime) -> None:
    """Attach the handlers to the runtime's consumer (group `competitions`)."""
    assert runtime.consumer is not None and runtime.outbox is not None
    outbox = runtime.outbox

    @runtime.consumer.handles(JoinRequested)
    async def on_join_requested(session: AsyncSession, event: JoinRequested) -> None:
        """Decide a join request and emit the outcome (SPEC §5.2)."""
        await service.decide_join(session, outbox, event.data)

    @runtime.consumer.handles(UserRegistered, UserUpdated)
    async def on_user_changed(session: AsyncSession, event: UserRegistered | UserUpdated) -> None:
        """Keep the users projection (display names for rosters and boards)."""
        await service.record_user(session, event.data)

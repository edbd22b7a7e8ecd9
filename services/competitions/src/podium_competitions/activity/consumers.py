"""Event handlers of activity competitions (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import StatementRecorded
from podium_runtime.runtime import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity import service
from podium_competitions.activity.mirror import ActivityBoardMirror


def register(runtime: ServiceRuntime) -> None:
    """Attach the activity handlers to the service's consumer (group `competitions`)."""
    assert runtime.consumer is not None and runtime.outbox is not None
    outbox = runtime.outbox
    mirror = ActivityBoardMirror(runtime.redis)

    @runtime.consumer.handles(StatementRecorded)
    async def on_statement_recorded(session: AsyncSession, event: StatementRecorded) -> None:
        """Award, or on voiding take back, a statement's points (SPEC §7.3)."""
        await service.record_statement(session, outbox, mirror, event.data)

"""Event handlers of activity competitions (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import StatementRecorded, StatementsRecorded
from podium_runtime.outbox import Outbox
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity import service
from podium_competitions.activity.mirror import ActivityBoardMirror

router = EventRouter()


@router.handles(StatementsRecorded)
async def on_statements_recorded(
    session: AsyncSession,
    event: StatementsRecorded,
    *,
    outbox: Outbox,
    activity_mirror: ActivityBoardMirror,
) -> None:
    """Award, or on voiding take back, each statement's points, in order (SPEC §7.3)."""
    await service.record_statements(session, outbox, activity_mirror, event.data.facts)


# One event per statement, as ingest emitted before ADR 0068; may still be in flight.
@router.handles(StatementRecorded)
async def on_statement_recorded(
    session: AsyncSession,
    event: StatementRecorded,
    *,
    outbox: Outbox,
    activity_mirror: ActivityBoardMirror,
) -> None:
    """Award, or on voiding take back, a statement's points (SPEC §7.3)."""
    await service.record_statements(session, outbox, activity_mirror, [event.data])

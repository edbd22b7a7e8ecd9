"""Event handlers of the ingest service (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import (
    CompetitionCreated,
    CompetitionUpdated,
    EnrollmentAccepted,
    EnrollmentLeft,
    StatementsReceived,
    UserRegistered,
    UserUpdated,
)
from podium_runtime.runtime import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest import service
from podium_ingest.config import Settings


def register_consumers(runtime: ServiceRuntime, settings: Settings) -> None:
    """Subscribe the ingest handlers on the runtime's consumer (group `ingest`)."""
    assert runtime.consumer is not None and runtime.outbox is not None
    outbox = runtime.outbox

    # Statements arrive by the thousand per second: one unit of work per poll (SPEC §4).
    @runtime.consumer.handles_batch(StatementsReceived, max_records=settings.consumer_batch_size)
    async def on_statements_received(
        session: AsyncSession, events: list[StatementsReceived]
    ) -> None:
        await service.record_statements(session, outbox, events, settings.platform_url)

    # Report projections (SPEC §5.5): the facts ingest needs from other services.
    @runtime.consumer.handles(CompetitionCreated, CompetitionUpdated)
    async def on_competition(
        session: AsyncSession, event: CompetitionCreated | CompetitionUpdated
    ) -> None:
        await service.record_competition(session, event.data, event.occurred_at)

    @runtime.consumer.handles(UserRegistered, UserUpdated)
    async def on_user(session: AsyncSession, event: UserRegistered | UserUpdated) -> None:
        await service.record_user(session, event.data, event.occurred_at)

    @runtime.consumer.handles(EnrollmentAccepted, EnrollmentLeft)
    async def on_enrollment(
        session: AsyncSession, event: EnrollmentAccepted | EnrollmentLeft
    ) -> None:
        await service.record_enrollment(
            session,
            event.data,
            event.occurred_at,
            accepted=isinstance(event, EnrollmentAccepted),
        )

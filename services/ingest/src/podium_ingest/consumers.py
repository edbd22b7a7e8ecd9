"""Event handlers of the ingest service (thin: parse, call the service)."""

from __future__ import annotations

from podium_contracts.events import StatementsReceived
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

"""A minimal service used to exercise the runtime: a ledger fed by events through the inbox."""

from __future__ import annotations

import uuid

from podium_contracts.events import JoinRequested
from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.settings import ServiceSettings
from sqlalchemy import BigInteger, Column, Identity, String, Table, func, insert, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMA = "runtime_probe"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("request_id", UUID(as_uuid=True), nullable=False),
    Column("handled_by", String(50), nullable=False),
)


class ProbeSettings(ServiceSettings):
    """Settings of the probe service."""

    service_name: str = "probe"


def build_probe(
    settings: ProbeSettings, name: str = "probe-a", fail_for: set[uuid.UUID] | None = None
) -> ServiceRuntime:
    """A runtime whose consumer appends one ledger row per join request it handles."""
    runtime = ServiceRuntime(settings, metadata)
    assert runtime.consumer is not None

    @runtime.consumer.handles(JoinRequested)
    async def record(session: AsyncSession, event: JoinRequested) -> None:
        if fail_for and event.data.request_id in fail_for:
            raise RuntimeError("handler cannot cope with this one")
        await session.execute(
            insert(ledger).values(request_id=event.data.request_id, handled_by=name)
        )

    return runtime


async def ledger_rows(
    runtime: ServiceRuntime, request_ids: set[uuid.UUID]
) -> list[tuple[uuid.UUID, str]]:
    """Return (request id, handler) rows for the given requests."""
    async with runtime.db.session() as session:
        rows = await session.execute(
            select(ledger.c.request_id, ledger.c.handled_by).where(
                ledger.c.request_id.in_(request_ids)
            )
        )
        return [(r.request_id, r.handled_by) for r in rows]


async def ledger_count(runtime: ServiceRuntime) -> int:
    """Return the number of ledger rows."""
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(ledger)) or 0)


def build_batch_probe(settings: ProbeSettings, fail_for: set[uuid.UUID]) -> ServiceRuntime:
    """A runtime whose consumer appends ledger rows for a whole poll in one statement."""
    runtime = ServiceRuntime(settings, metadata)
    assert runtime.consumer is not None

    @runtime.consumer.handles_batch(JoinRequested)
    async def record_all(session: AsyncSession, events: list[JoinRequested]) -> None:
        if any(event.data.request_id in fail_for for event in events):
            raise RuntimeError("handler cannot cope with this one")
        await session.execute(
            insert(ledger),
            [{"request_id": e.data.request_id, "handled_by": "batch"} for e in events],
        )

    return runtime

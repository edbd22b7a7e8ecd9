"""Event handlers of the ingest service (thin: parse, call the service)."""

from __future__ import annotations

import asyncio
from typing import Any

from podium_contracts.events import (
    CompetitionCreated,
    CompetitionUpdated,
    EnrollmentAccepted,
    EnrollmentLeft,
    StatementsReceived,
    UserRegistered,
    UserUpdated,
)
from podium_contracts.redis_keys import xapi_claim_key
from podium_runtime.db import after_commit
from podium_runtime.outbox import Outbox
from podium_runtime.routing import EventRouter
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest import service
from podium_ingest.config import Settings
from podium_ingest.statement_index import StatementIndex

router = EventRouter()


def _batch_size(settings: Settings) -> int:
    return settings.consumer_batch_size


# Statements arrive by the thousand per second: one unit of work per poll (SPEC §4).
@router.handles_batch(StatementsReceived, max_records=_batch_size)
async def on_statements_received(
    session: AsyncSession,
    events: list[StatementsReceived],
    *,
    outbox: Outbox,
    settings: Settings,
    redis: Redis,
    statement_index: StatementIndex,
) -> None:
    """Store and flatten a poll's statements, emitting `learning.statements_recorded`.

    The ids stored are added to the stored-ids index before the commit (ADR 0059).

    The gateway's claim of a statement it could not store is released after the
    commit, so the LRS client can send that id again (a claim stands for a stored
    statement, not a sent one).
    """
    refused: list[str] = []
    recorded = await service.record_statements(
        session,
        outbox,
        events,
        settings.platform_url,
        on_refused=refused.append,
        on_inserted=statement_index.add,
    )
    if recorded:
        # Events carry many statements each (ADR 0068): this counter counts statements.
        after_commit(session, lambda: service.STATEMENTS_RECORDED.inc(recorded))
    if refused:
        keys = [xapi_claim_key(i, settings.gateway_redis_key_prefix) for i in refused]
        after_commit(session, lambda: _release_soon(redis, keys))


_releases: set[asyncio.Task[Any]] = set()


async def _release(redis: Redis, keys: list[str]) -> None:
    await redis.delete(*keys)


def _release_soon(redis: Redis, keys: list[str]) -> None:
    task = asyncio.get_running_loop().create_task(_release(redis, keys))
    _releases.add(task)
    task.add_done_callback(_releases.discard)


# Report projections (SPEC §5.5): the facts ingest needs from other services.
@router.handles(CompetitionCreated, CompetitionUpdated)
async def on_competition(
    session: AsyncSession, event: CompetitionCreated | CompetitionUpdated
) -> None:
    """Keep the competition facts the reports need."""
    await service.record_competition(session, event.data, event.occurred_at)


@router.handles(UserRegistered, UserUpdated)
async def on_user(session: AsyncSession, event: UserRegistered | UserUpdated) -> None:
    """Keep the user facts the reports need."""
    await service.record_user(session, event.data, event.occurred_at)


@router.handles(EnrollmentAccepted, EnrollmentLeft)
async def on_enrollment(session: AsyncSession, event: EnrollmentAccepted | EnrollmentLeft) -> None:
    """Keep who takes part in which competition."""
    await service.record_enrollment(
        session, event.data, event.occurred_at, accepted=isinstance(event, EnrollmentAccepted)
    )

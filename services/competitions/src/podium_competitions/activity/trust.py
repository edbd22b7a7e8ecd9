"""Trusted LRS clients of activity competitions: whose statements count (ADR 0054).

Any LRS client with `statements/write` may post statements naming any
learner (xAPI lets a tool report for its learners), so an activity
competition counts statements only from the clients its sponsor, or an
admin, trusted for it. The use cases flush, never commit (STYLE 3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from podium_runtime.db import AnyRow
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity import repository
from podium_competitions.service import Conflict, _owned
from podium_competitions.views import Caller


@dataclass(frozen=True)
class Trust:
    """Which LRS clients' statements count for an activity competition."""

    lrs_client_ids: list[uuid.UUID]
    #: Created before trust existed: every client counts until the sponsor names some.
    any_lrs_client: bool


async def _activity_owned(
    session: AsyncSession, competition_id: uuid.UUID, caller: Caller, *, lock: bool = False
) -> AnyRow:
    row = await _owned(session, competition_id, caller, lock=lock)
    if row.kind != "activity":
        raise Conflict(
            "NOT_AN_ACTIVITY_COMPETITION", "only activity competitions count xAPI statements"
        )
    return row


async def trust(session: AsyncSession, caller: Caller, competition_id: uuid.UUID) -> Trust:
    """Return the competition's trusted LRS clients (owner or admin)."""
    row = await _activity_owned(session, competition_id, caller)
    clients = await repository.trusted_clients(session, competition_id)
    return Trust(clients, row.any_lrs_client)


async def replace_trust(
    session: AsyncSession,
    caller: Caller,
    competition_id: uuid.UUID,
    lrs_client_ids: list[uuid.UUID],
) -> Trust:
    """Make these clients the only ones whose statements count from now on (owner or admin).

    Points already awarded stay: trust decides what counts next, not the past.
    """
    await _activity_owned(session, competition_id, caller, lock=True)
    await repository.replace_trusted_clients(
        session, competition_id, sorted(set(lrs_client_ids)), caller.user_id
    )
    return Trust(await repository.trusted_clients(session, competition_id), False)


async def add_trust(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID, lrs_client_id: uuid.UUID
) -> Trust:
    """Trust one more client for the competition (owner or admin; SPEC §10.5)."""
    row = await _activity_owned(session, competition_id, caller, lock=True)
    await repository.add_trusted_clients(session, competition_id, [lrs_client_id], caller.user_id)
    return Trust(await repository.trusted_clients(session, competition_id), row.any_lrs_client)

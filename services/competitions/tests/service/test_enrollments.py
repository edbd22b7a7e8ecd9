"""Join decisions through the use cases on real Postgres, without HTTP or Kafka (SPEC §5.2)."""

from __future__ import annotations

import json
import uuid

import competitions_factories as factories
from podium_competitions import enrollments
from podium_competitions.models import metadata
from podium_contracts.codes import JoinRejection
from podium_runtime.outbox import messaging_tables
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

OUTBOX = messaging_tables(metadata).outbox


async def _announced(session: AsyncSession, event_type: str) -> list[dict[str, object]]:
    rows = await session.execute(select(OUTBOX.c.payload).where(OUTBOX.c.event_type == event_type))
    return [json.loads(row.payload)["data"] for row in rows]


async def test_a_full_competition_rejects_with_the_contract_code(session: AsyncSession) -> None:
    competition = await factories.competition(session, max_participants=1)
    first, second = factories.join(competition.id), factories.join(competition.id)
    outcomes = await enrollments.decide_joins(session, factories.outbox(), [first, second])
    assert outcomes == ["accepted", JoinRejection.FULL]
    rejected = await _announced(session, "enrollment.rejected")
    assert [r["reason"] for r in rejected] == ["FULL"]
    assert rejected[0]["user_id"] == str(second.user_id)


async def test_joining_twice_is_accepted_once(session: AsyncSession) -> None:
    competition = await factories.competition(session)
    request = factories.join(competition.id)
    again = factories.join(competition.id, request.user_id)
    outcomes = await enrollments.decide_joins(session, factories.outbox(), [request, again])
    assert outcomes == ["accepted", "accepted"]
    assert len(await _announced(session, "enrollment.accepted")) == 1


async def test_an_unknown_competition_is_rejected(session: AsyncSession) -> None:
    request = factories.join(uuid.uuid4())
    outcomes = await enrollments.decide_joins(session, factories.outbox(), [request])
    assert outcomes == [JoinRejection.COMPETITION_NOT_FOUND]

"""Join decisions through the use cases on real Postgres, without HTTP or Kafka (SPEC §5.2)."""

from __future__ import annotations

import uuid

import competitions_factories as factories
from podium_competitions import enrollments
from podium_competitions.models import competitions as COMPETITIONS
from podium_competitions.models import enrollments as ENROLLMENTS
from podium_competitions.models import metadata
from podium_contracts.codes import JoinRejection
from podium_runtime.outbox import messaging_tables, staged_events
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

OUTBOX = messaging_tables(metadata).outbox


async def _announced(session: AsyncSession, event_type: str) -> list[dict[str, object]]:
    return [event["data"] for event in await staged_events(session, OUTBOX, event_type)]


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


async def test_capacity_reached_mid_batch_accepts_exactly_the_first_requests(
    session: AsyncSession,
) -> None:
    small = await factories.competition(session, max_participants=3)
    other = await factories.competition(session, max_participants=1)
    requests = [factories.join(small.id) for _ in range(5)]
    # Interleaved with another competition's requests: each has its own seats.
    batch = [requests[0], factories.join(other.id), *requests[1:], factories.join(other.id)]
    outcomes = await enrollments.decide_joins(session, factories.outbox(), batch)
    full = JoinRejection.FULL
    assert outcomes == ["accepted", "accepted", "accepted", "accepted", full, full, full]
    accepted = await _announced(session, "enrollment.accepted")
    assert {a["user_id"] for a in accepted if a["competition_id"] == str(small.id)} == {
        str(r.user_id) for r in requests[:3]
    }
    rejected = await _announced(session, "enrollment.rejected")
    assert [r["user_id"] for r in rejected] == [
        str(requests[3].user_id),
        str(requests[4].user_id),
        str(batch[-1].user_id),
    ]


async def test_the_same_user_twice_in_one_batch_takes_one_seat(session: AsyncSession) -> None:
    competition = await factories.competition(session, max_participants=2)
    first = factories.join(competition.id)
    again = factories.join(competition.id, first.user_id)
    second, third = factories.join(competition.id), factories.join(competition.id)
    batch = [first, again, second, third]
    outcomes = await enrollments.decide_joins(session, factories.outbox(), batch)
    assert outcomes == ["accepted", "accepted", "accepted", JoinRejection.FULL]
    assert len(await _announced(session, "enrollment.accepted")) == 2
    row = await session.execute(
        select(ENROLLMENTS.c.request_id).where(
            ENROLLMENTS.c.competition_id == competition.id,
            ENROLLMENTS.c.user_id == first.user_id,
        )
    )
    # The re-join's request id is the one recorded, as for a re-join in a later batch.
    assert row.scalar_one() == again.request_id


async def test_a_batch_over_earlier_enrollments_reads_and_overwrites_each(
    session: AsyncSession,
) -> None:
    """Earlier rows of the batch's users are found, judged and overwritten; seats are counted."""
    competition = await factories.competition(session, max_participants=3)
    other = await factories.competition(session)
    left, banned = factories.join(competition.id), factories.join(competition.id)
    member = factories.join(competition.id)
    earlier = [left, banned, member, factories.join(other.id, left.user_id)]
    assert await enrollments.decide_joins(session, factories.outbox(), earlier) == ["accepted"] * 4
    await session.execute(
        ENROLLMENTS.update()
        .where(
            ENROLLMENTS.c.user_id == left.user_id, ENROLLMENTS.c.competition_id == competition.id
        )
        .values(status="left", enrolled_at=None)
    )
    await session.execute(
        ENROLLMENTS.update()
        .where(ENROLLMENTS.c.user_id == banned.user_id)
        .values(status="rejected", reason=JoinRejection.BANNED, enrolled_at=None)
    )
    # Their seats were given back when they left or were removed.
    await session.execute(
        COMPETITIONS.update()
        .where(COMPETITIONS.c.id == competition.id)
        .values(participants_count=COMPETITIONS.c.participants_count - 2)
    )
    fresh, late = factories.join(competition.id), factories.join(competition.id)
    batch = [
        factories.join(competition.id, left.user_id),
        factories.join(competition.id, banned.user_id),
        factories.join(competition.id, member.user_id),
        fresh,
        late,
    ]
    outcomes = await enrollments.decide_joins(session, factories.outbox(), batch)
    assert outcomes == [
        "accepted",
        JoinRejection.BANNED,
        "accepted",
        "accepted",
        JoinRejection.FULL,
    ]
    stored = {
        row.user_id: row
        for row in await session.execute(
            select(ENROLLMENTS).where(ENROLLMENTS.c.competition_id == competition.id)
        )
    }
    assert {uid: (r.status, r.reason) for uid, r in stored.items()} == {
        left.user_id: ("accepted", None),
        banned.user_id: ("rejected", JoinRejection.BANNED),
        member.user_id: ("accepted", None),
        fresh.user_id: ("accepted", None),
        late.user_id: ("rejected", JoinRejection.FULL),
    }
    assert [stored[r.user_id].request_id for r in batch] == [r.request_id for r in batch]
    # Seats: one kept, the returning participant's and the new one's.
    seats = await session.execute(
        select(COMPETITIONS.c.id, COMPETITIONS.c.participants_count).where(
            COMPETITIONS.c.id.in_([competition.id, other.id])
        )
    )
    assert dict(seats.all()) == {competition.id: 3, other.id: 1}

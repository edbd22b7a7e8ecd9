"""Use cases of enrollments: join decisions, leaving, rosters (SPEC §5.2); flush, never commit.

Outcomes are staged in the outbox in the caller's transaction (SPEC §4).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from podium_contracts.codes import JoinRejection
from podium_contracts.envelope import Event
from podium_contracts.events import (
    EnrollmentAccepted,
    EnrollmentData,
    EnrollmentLeft,
    EnrollmentRejected,
    JoinData,
)
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import domain, repository
from podium_competitions.schemas import (
    Enrollment,
    Participant,
    ParticipantPage,
)
from podium_competitions.service import (
    PRODUCER,
    ROSTER_CURSOR,
    Conflict,
    NotFound,
    now,
    visible_competition,
)
from podium_competitions.views import Caller, to_enrollment


async def decide_joins(
    session: AsyncSession, outbox: Outbox, requests: list[JoinData]
) -> list[str]:
    """Accept or reject join requests in order (SPEC §5.2 join rules); return the outcomes.

    The competitions and the current enrollments concerned are read and locked
    once; the requests are then judged in memory one after the other, so a later
    request sees the seats and enrollments of earlier ones. The enrollments, the
    seat counters and the outcome events are written in bulk. The `capacity` CHECK
    on the counter still makes over-capacity impossible in the database.
    """
    found = await repository.lock_competitions(session, {r.competition_id for r in requests})
    locked = await repository.lock_enrollments(
        session, ((r.competition_id, r.user_id) for r in requests if r.competition_id in found)
    )
    current = {key: dict(row) for key, row in locked.items()}
    taken = {cid: row["participants_count"] for cid, row in found.items()}
    writes: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    events: list[Event] = []
    outcomes: list[str] = []
    for request in requests:
        cid, uid = request.competition_id, request.user_id
        row = found.get(cid)
        if row is None:
            events.append(_rejected(request, JoinRejection.COMPETITION_NOT_FOUND))
            outcomes.append(JoinRejection.COMPETITION_NOT_FOUND)
            continue
        key = (cid, uid)
        enrollment = current.get(key)
        if enrollment is not None and enrollment["status"] == "accepted":
            # Re-join is idempotent: only the answered request id is recorded, nothing announced.
            writes[key] = current[key] = {**enrollment, "request_id": request.request_id}
            outcomes.append("accepted")
            continue
        reason = join_refusal(row, uid, request.invite_code, enrollment, taken[cid])
        if reason is None and row["join_approval"]:
            # Approval mode (SPEC §10.2): the owner decides; no seat is taken until then.
            writes[key] = current[key] = _enrollment(request, "pending", None, None)
            outcomes.append("pending")
            continue
        if reason is None:
            taken[cid] += 1
            values = _enrollment(request, "accepted", None, now())
            events.append(
                new_event(
                    EnrollmentAccepted,
                    PRODUCER,
                    EnrollmentData(competition_id=cid, user_id=uid, request_id=request.request_id),
                )
            )
        else:
            values = _enrollment(request, "rejected", reason, None)
            events.append(_rejected(request, reason))
        writes[key] = current[key] = values
        outcomes.append(reason or "accepted")
    await repository.save_enrollments(session, list(writes.values()))
    await repository.take_seats(
        session, {cid: count - found[cid]["participants_count"] for cid, count in taken.items()}
    )
    await outbox.add(session, *events)
    return outcomes


def join_refusal(
    row: Mapping[Any, Any],
    user_id: uuid.UUID,
    invite_code: str | None,
    enrollment: Mapping[Any, Any] | None,
    seats_taken: int,
) -> JoinRejection | None:
    """Return why `user_id` may not join the competition of `row` now, or None.

    `row` holds the competition's columns by name, `enrollment` the user's current
    one (with `reason`, or None) and `seats_taken` the seats already given; an
    accepted enrollment is handled before.
    """
    target = domain.JoinTarget(
        owner_id=row["owner_id"],
        status=row["status"],
        visibility=row["visibility"],
        invite_code=row["invite_code"],
        starts_at=row["starts_at"],
        late_join=row["late_join"],
    )
    reason = domain.join_refusal(target, user_id, invite_code, now())
    if enrollment is not None and enrollment["reason"] == JoinRejection.BANNED:
        reason = JoinRejection.BANNED  # removed by the owner with a ban (SPEC §10.2)
    max_participants = row["max_participants"]
    if reason is None and max_participants is not None and seats_taken >= max_participants:
        reason = JoinRejection.FULL
    return reason


def _enrollment(
    request: JoinData, status: str, reason: str | None, enrolled_at: datetime | None
) -> dict[str, Any]:
    return {
        "competition_id": request.competition_id,
        "user_id": request.user_id,
        "status": status,
        "reason": reason,
        "request_id": request.request_id,
        "enrolled_at": enrolled_at,
    }


def _rejected(request: JoinData, reason: JoinRejection) -> Event:
    return new_event(
        EnrollmentRejected,
        PRODUCER,
        EnrollmentData(
            competition_id=request.competition_id,
            user_id=request.user_id,
            request_id=request.request_id,
            reason=reason,
        ),
    )


async def get_enrollment(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID
) -> Enrollment:
    """Return the caller's own enrollment; there is no way to read someone else's."""
    row = await repository.get_enrollment(session, competition_id, caller.user_id)
    if row is None:
        raise NotFound("NOT_ENROLLED", "you have not asked to join this competition")
    return to_enrollment(row)


async def leave(
    session: AsyncSession, outbox: Outbox, caller: Caller, competition_id: uuid.UUID
) -> None:
    """Take the caller out of a competition, freeing the seat, and announce it."""
    competition = await repository.get_competition(session, competition_id, for_update=True)
    current = await repository.get_enrollment(
        session, competition_id, caller.user_id, for_update=True
    )
    if competition is None or current is None or current.status != "accepted":
        raise NotFound("NOT_ENROLLED", "you are not a participant of this competition")
    if competition.status not in ("draft", "active"):
        raise Conflict("COMPETITION_NOT_ACTIVE", f"the competition is {competition.status}")
    await repository.save_enrollment(
        session,
        competition_id,
        caller.user_id,
        status="left",
        reason=None,
        request_id=current.request_id,
        enrolled_at=current.enrolled_at,
    )
    await repository.release_seat(session, competition_id)
    await outbox.add(
        session,
        new_event(
            EnrollmentLeft,
            PRODUCER,
            EnrollmentData(competition_id=competition_id, user_id=caller.user_id),
        ),
    )


async def participants(
    session: AsyncSession,
    caller: Caller | None,
    competition_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> ParticipantPage:
    """Return the roster; for private competitions only members (and the owner) see it."""
    row = await visible_competition(session, competition_id, caller)
    after = ROSTER_CURSOR.decode_optional(cursor)
    rows = await repository.roster(session, competition_id, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    # SPEC §5.2 "display names only": user ids are for the owner, who removes participants.
    manager = caller is not None and (caller.user_id == row.owner_id or caller.is_admin)
    return ParticipantPage(
        items=[
            Participant(
                user_id=r.user_id if manager else None,
                display_name=r.name,
                enrolled_at=r.enrolled_at,
            )
            for r in rows
        ],
        total=row.participants_count,
        next_cursor=_roster_cursor(rows, after) if more else None,
    )


def _roster_cursor(rows: list[AnyRow], after: tuple[datetime, int] | None) -> str:
    """Return the cursor after `rows`: their last instant and how many of it were shown."""
    last = rows[-1].enrolled_at
    shown = sum(1 for r in rows if r.enrolled_at == last)
    if after is not None and after[0] == last and shown == len(rows):
        shown += after[1]  # the whole page continued one instant's participants
    return ROSTER_CURSOR.encode(last, shown)

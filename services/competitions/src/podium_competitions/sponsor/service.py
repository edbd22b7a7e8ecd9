"""Use cases of the sponsor's tools (SPEC §5.2 stats, §10.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from podium_contracts.codes import JoinRejection
from podium_contracts.events import (
    EnrollmentAccepted,
    EnrollmentData,
    EnrollmentLeft,
    EnrollmentRejected,
)
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as competitions_repository
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.leaderboard.service import place_again
from podium_competitions.service import PRODUCER, Conflict, NotFound, _owned
from podium_competitions.sponsor import repository
from podium_competitions.sponsor.repository import removed_from_board
from podium_competitions.teams import repository as teams_repository
from podium_competitions.views import Caller


async def remove_participant(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    caller: Caller,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    ban: bool,
) -> None:
    """Take a participant out (owner or admin); with `ban`, their joins are refused later.

    The seat is freed, they leave their team, and their submissions leave the
    board with them. A banned user's enrollment stays `rejected` with `BANNED`.
    """
    await _owned(session, competition_id, caller)
    await competitions_repository.get_competition(session, competition_id, for_update=True)
    current = await competitions_repository.get_enrollment(
        session, competition_id, user_id, for_update=True
    )
    if current is None or (current.status != "accepted" and not ban):
        raise NotFound("NOT_ENROLLED", "this user is not a participant of the competition")
    await competitions_repository.save_enrollment(
        session,
        competition_id,
        user_id,
        status="rejected" if ban else "left",
        reason=JoinRejection.BANNED if ban else "REMOVED",
        request_id=current.request_id,
        enrolled_at=current.enrolled_at,
    )
    if current.status == "accepted":
        await competitions_repository.release_seat(session, competition_id)
        await outbox.add(
            session,
            new_event(
                EnrollmentLeft,
                PRODUCER,
                EnrollmentData(competition_id=competition_id, user_id=user_id, reason="REMOVED"),
            ),
        )
    team_id = await teams_repository.remove_member(session, competition_id, user_id)
    await removed_from_board(session, competition_id, user_id)
    # Their own line goes; a team they leave is ranked on its other members' submissions
    # (a team left without members is placed by its id, which has none: off the board).
    people = [user_id]
    if team_id is not None:
        people += (await teams_repository.member_ids(session, team_id))[:1] or [team_id]
    await place_again(session, outbox, mirror, competition_id, people)


async def decide_enrollment(
    session: AsyncSession,
    outbox: Outbox,
    caller: Caller,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    accept: bool,
) -> str:
    """Accept or decline a pending join (owner or admin, approval mode); return the status.

    Accepting takes a seat under the competition's row lock, so capacity holds;
    declining leaves the enrollment `rejected` with `DECLINED`.
    """
    await _owned(session, competition_id, caller)
    competition = await competitions_repository.get_competition(
        session, competition_id, for_update=True
    )
    current = await competitions_repository.get_enrollment(
        session, competition_id, user_id, for_update=True
    )
    if competition is None or current is None or current.status != "pending":
        raise NotFound("NO_PENDING_REQUEST", "this user has no join request waiting")
    cap = competition.max_participants
    if accept and cap is not None and competition.participants_count >= cap:
        raise Conflict("FULL", "the competition is full")
    now = datetime.now(UTC)
    reason = None if accept else JoinRejection.DECLINED
    await competitions_repository.save_enrollment(
        session,
        competition_id,
        user_id,
        status="accepted" if accept else "rejected",
        reason=reason,
        request_id=current.request_id,
        enrolled_at=now if accept else None,
    )
    data = EnrollmentData(
        competition_id=competition_id,
        user_id=user_id,
        request_id=current.request_id,
        reason=reason,
    )
    if accept:
        await competitions_repository.take_seats(session, {competition_id: 1})
        await outbox.add(session, new_event(EnrollmentAccepted, PRODUCER, data))
        return "accepted"
    await outbox.add(session, new_event(EnrollmentRejected, PRODUCER, data))
    return "rejected"


async def pending_requests(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID
) -> list[AnyRow]:
    """Return the joins waiting for the owner's decision, oldest first."""
    await _owned(session, competition_id, caller)
    return await repository.pending_enrollments(session, competition_id)

"""Use cases of the sponsor's tools (SPEC §5.2 stats, §10.2)."""

from __future__ import annotations

import uuid

from podium_contracts.codes import JoinRejection
from podium_contracts.events import EnrollmentData, EnrollmentLeft
from podium_runtime.outbox import Outbox, new_event
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as competitions_repository
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.leaderboard.service import recompute_board
from podium_competitions.service import PRODUCER, Caller, NotFound, _owned
from podium_competitions.sponsor.repository import removed_from_board
from podium_competitions.teams import repository as teams_repository


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
    await teams_repository.remove_member(session, competition_id, user_id)
    await removed_from_board(session, competition_id, user_id)
    await recompute_board(session, outbox, mirror, competition_id)

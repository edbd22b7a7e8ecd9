"""Use cases answering "may this caller submit / join now?" (SPEC §5.2, §5.3).

The competition rules live here, next to the data; the gateway asks before it
accepts an upload and turns a refusal into the problem with the same contract
code, instead of judging the competition itself. Joins stay decided
asynchronously by `enrollments.decide_joins` (seats are taken there); the join
answer here applies the same rules to the current state, for a caller who
wants to know before asking.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import domain, enrollments, repository
from podium_competitions.schemas import JoinEligibility, SubmitEligibility
from podium_competitions.service import NotFound, get_competition, now
from podium_competitions.views import Caller


async def may_submit(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID
) -> SubmitEligibility:
    """Tell whether the caller may upload a prediction now; invisible competitions are NotFound."""
    competition = await get_competition(session, competition_id, caller)
    is_participant = competition.viewer is not None and competition.viewer.role == "participant"
    refusal = domain.submission_refusal(
        competition.kind,
        competition.status,
        competition.starts_at,
        competition.ends_at,
        is_participant,
        now(),
    )
    if refusal is None:
        return SubmitEligibility(allowed=True, competition=competition)
    return SubmitEligibility(
        allowed=False,
        code=refusal.code,
        status=refusal.status,
        detail=refusal.detail,
        competition=competition,
    )


async def may_join(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID, invite_code: str | None
) -> JoinEligibility:
    """Tell whether the caller's join would be accepted now (the rules of `decide_joins`)."""
    row = await repository.get_competition(session, competition_id)
    if row is None:
        raise NotFound("NOT_FOUND", "no such competition")
    enrollment = await repository.get_enrollment(session, competition_id, caller.user_id)
    if enrollment is not None and enrollment.status == "accepted":
        return JoinEligibility(competition_id=competition_id, allowed=True, enrolled=True)
    reason = enrollments.join_refusal(
        row._mapping,
        caller.user_id,
        invite_code,
        enrollment._mapping if enrollment is not None else None,
        row.participants_count,
    )
    return JoinEligibility(
        competition_id=competition_id,
        allowed=reason is None,
        code=reason,
        needs_approval=reason is None and bool(row.join_approval),
    )

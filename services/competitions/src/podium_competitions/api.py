"""Internal HTTP API of the competitions service, called only by the gateway (SPEC §6).

The gateway authenticates the caller and passes who it is in `X-Podium-User-Id`
and `X-Podium-User-Role`; this API is reachable only inside the cluster
(NetworkPolicy). Object-level checks happen here, next to the data.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from podium_runtime.deps import OutboxDep, SessionDep

from podium_competitions import eligibility, enrollments, service
from podium_competitions.deps import CallerDep, CursorQuery, InviteCodeQuery, MaybeCallerDep
from podium_competitions.schemas import (
    Competition,
    CompetitionCreate,
    CompetitionPage,
    CompetitionUpdate,
    Enrollment,
    JoinEligibility,
    JoinTargetOut,
    Kind,
    ParticipantPage,
    Stats,
    Status,
    SubmitEligibility,
)

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/competitions", status_code=201, response_model=Competition)
async def create_competition(
    body: CompetitionCreate, session: SessionDep, outbox: OutboxDep, caller: CallerDep
) -> Competition:
    """Create a competition owned by the caller."""
    return await service.create_competition(session, outbox, caller, body)


@router.get("/competitions", response_model=CompetitionPage)
async def list_competitions(
    session: SessionDep,
    caller: MaybeCallerDep,
    status: Status | None = None,
    kind: Kind | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
    mine: Literal["owned", "joined"] | None = None,
) -> CompetitionPage:
    """List the competitions the caller may see (`mine`: only owned or joined ones)."""
    return await service.list_competitions(
        session, caller, status=status, kind=kind, q=q, limit=limit, cursor=cursor, mine=mine
    )


@router.get("/competitions/{competition_id}", response_model=Competition)
async def get_competition(
    competition_id: uuid.UUID, session: SessionDep, caller: MaybeCallerDep
) -> Competition:
    """Return one competition with the caller's viewer block."""
    return await service.get_competition(session, competition_id, caller)


@router.patch("/competitions/{competition_id}", response_model=Competition)
async def update_competition(
    competition_id: uuid.UUID,
    body: CompetitionUpdate,
    session: SessionDep,
    outbox: OutboxDep,
    caller: CallerDep,
) -> Competition:
    """Change a competition (owner or admin)."""
    return await service.update_competition(session, outbox, caller, competition_id, body)


@router.post("/competitions/{competition_id}/invite-code", response_model=Competition)
async def regenerate_invite_code(
    competition_id: uuid.UUID, session: SessionDep, outbox: OutboxDep, caller: CallerDep
) -> Competition:
    """Replace the invite code of a private competition (owner or admin)."""
    return await service.regenerate_invite_code(session, outbox, caller, competition_id)


@router.get("/join-targets", response_model=JoinTargetOut)
async def join_target(
    session: SessionDep,
    competition_id: uuid.UUID | None = None,
    invite_code: InviteCodeQuery = None,
) -> JoinTargetOut:
    """Resolve the competition a join is aimed at, by id or by invite code."""
    found = await service.join_target(session, competition_id, invite_code)
    return JoinTargetOut(competition_id=found)


@router.get("/competitions/{competition_id}/eligibility/submit", response_model=SubmitEligibility)
async def may_submit(
    competition_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> SubmitEligibility:
    """May the caller upload a prediction now? A typed decision and the competition."""
    return await eligibility.may_submit(session, caller, competition_id)


@router.get("/competitions/{competition_id}/eligibility/join", response_model=JoinEligibility)
async def may_join(
    competition_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    invite_code: InviteCodeQuery = None,
) -> JoinEligibility:
    """Would the caller's join be accepted now? The `JoinRejection` code if not."""
    return await eligibility.may_join(session, caller, competition_id, invite_code)


@router.get("/competitions/{competition_id}/enrollment", response_model=Enrollment)
async def get_enrollment(
    competition_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> Enrollment:
    """Return the caller's enrollment."""
    return await enrollments.get_enrollment(session, caller, competition_id)


@router.delete("/competitions/{competition_id}/enrollment", status_code=204)
async def leave(
    competition_id: uuid.UUID, session: SessionDep, outbox: OutboxDep, caller: CallerDep
) -> Response:
    """Leave a competition."""
    await enrollments.leave(session, outbox, caller, competition_id)
    return Response(status_code=204)


@router.get("/competitions/{competition_id}/participants", response_model=ParticipantPage)
async def participants(
    competition_id: uuid.UUID,
    session: SessionDep,
    caller: MaybeCallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> ParticipantPage:
    """Return the roster (display names only)."""
    return await enrollments.participants(
        session, caller, competition_id, limit=limit, cursor=cursor
    )


@router.get("/competitions/{competition_id}/stats", response_model=Stats)
async def stats(competition_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Stats:
    """Return the owner's statistics."""
    return await service.get_stats(session, caller, competition_id)

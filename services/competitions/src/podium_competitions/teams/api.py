"""Internal HTTP API of teams and final submissions, called only by the gateway (SPEC §10.2)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from podium_runtime.deps import OutboxDep, RuntimeDep, SessionDep

from podium_competitions.boards import BoardWriter
from podium_competitions.deps import CallerDep, InviteCodeQuery
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.teams import service
from podium_competitions.teams.schemas import (
    FinalSelection,
    FinalSelectionBody,
    Team,
    TeamCreate,
    TeamMembership,
    TeamRequest,
    TeamTarget,
)

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/competitions/{competition_id}/teams", status_code=201, response_model=Team)
async def create_team(
    competition_id: uuid.UUID,
    body: TeamCreate,
    session: SessionDep,
    outbox: OutboxDep,
    runtime: RuntimeDep,
    caller: CallerDep,
) -> Team:
    """Create a team; the caller (a participant) is its first member."""
    return await service.create_team(
        session,
        outbox,
        runtime.redis,
        LeaderboardMirror(BoardWriter(runtime.redis)),
        caller,
        competition_id,
        body.name,
    )


@router.get("/competitions/{competition_id}/teams/mine", response_model=Team)
async def my_team(competition_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Team:
    """Return the caller's team with its invite code."""
    return await service.my_team(session, caller, competition_id)


@router.get("/team-targets", response_model=TeamTarget)
async def team_target(
    session: SessionDep,
    caller: CallerDep,
    invite_code: InviteCodeQuery = None,
    merge_team_id: uuid.UUID | None = None,
) -> TeamTarget:
    """Resolve a team invite code, or a team the caller asks to merge."""
    if merge_team_id is not None:
        return await service.merge_target(session, caller, merge_team_id)
    return await service.team_by_invite_code(session, invite_code or "")


@router.get("/team-requests/{request_id}", response_model=TeamRequest)
async def team_request(
    request_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> TeamRequest:
    """Return the outcome of one of the caller's team join or merge requests."""
    return await service.get_request(session, caller, request_id)


@router.get("/competitions/{competition_id}/final-submissions", response_model=FinalSelection)
async def final_submissions(
    competition_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> FinalSelection:
    """Return the caller's team's final submissions and whether they are the default."""
    return await service.final_selection(session, caller, competition_id)


@router.put("/competitions/{competition_id}/final-submissions", response_model=FinalSelection)
async def select_final_submissions(
    competition_id: uuid.UUID,
    body: FinalSelectionBody,
    session: SessionDep,
    outbox: OutboxDep,
    runtime: RuntimeDep,
    caller: CallerDep,
) -> FinalSelection:
    """Choose the team's final submissions (at most K, before the end)."""
    return await service.select_finals(
        session,
        outbox,
        LeaderboardMirror(BoardWriter(runtime.redis)),
        caller,
        competition_id,
        body.submission_ids,
    )


@router.get("/competitions/{competition_id}/team-members", response_model=TeamMembership)
async def team_members(
    competition_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> TeamMembership:
    """Return which team each team member is in (owner or admin)."""
    return TeamMembership(teams=await service.team_members(session, caller, competition_id))

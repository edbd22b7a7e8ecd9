"""Team and final-submission routes of the public API (SPEC §10.2).

Creating a team and choosing final submissions are synchronous calls to the
competitions internal API (SPEC §6). Joining a team by its invite link and
merging two teams are commands: the gateway publishes `team.join_requested` /
`team.merge_requested` keyed by competition id, so they are decided in the
competition's partition order together with ordinary joins, and answers 202
once the broker acknowledged. `GET /v1/teams/requests/{id}` tells the outcome.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from podium_contracts.envelope import Event
from podium_contracts.events import (
    TeamJoinData,
    TeamJoinRequested,
    TeamMergeData,
    TeamMergeRequested,
)
from podium_runtime.outbox import new_event
from podium_runtime.problems import Problem
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import CurrentUser, UserDep
from podium_gateway.clients import RuntimeDep, SettingsDep, publish, relay
from podium_gateway.clients.competitions import CompetitionsClient, CompetitionsDep
from podium_gateway.config import Settings

router = APIRouter(tags=["teams"])

#: How long the gateway remembers a team request it published (decisions take ms).
PENDING_TTL_SECONDS = 3600


class TeamCreateBody(BaseModel):
    """Body of `POST /v1/competitions/{id}/teams`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class TeamMemberOut(BaseModel):
    """One member of a team."""

    user_id: uuid.UUID
    display_name: str


class TeamOut(BaseModel):
    """A team with its members; `invite_code` makes the invite link `/v1/teams/join/{code}`."""

    id: uuid.UUID
    competition_id: uuid.UUID
    name: str
    members: list[TeamMemberOut]
    invite_code: str | None = None
    created_at: str


class MergeBody(BaseModel):
    """Body of `POST /v1/teams/{team_id}/merge`."""

    model_config = ConfigDict(extra="forbid")

    into_team_id: uuid.UUID


class TeamRequestAccepted(BaseModel):
    """The 202 answer to a team join or merge: the decision follows asynchronously."""

    request_id: uuid.UUID
    status: Literal["pending"] = "pending"
    competition_id: uuid.UUID
    team_id: uuid.UUID


class TeamRequestOut(BaseModel):
    """A team request: pending, or decided (`reason` holds the refusal code)."""

    request_id: uuid.UUID
    status: Literal["pending", "accepted", "rejected"]
    kind: Literal["join", "merge"] | None = None
    competition_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    reason: str | None = None
    decided_at: str | None = None


class FinalSelectionBody(BaseModel):
    """Body of `PUT .../final-submissions`; an empty list returns to the default."""

    model_config = ConfigDict(extra="forbid")

    submission_ids: list[uuid.UUID] = Field(max_length=100)


class FinalSelectionOut(BaseModel):
    """The team's final submissions and whether they are the default best K public scores."""

    competition_id: uuid.UUID
    entrant_id: uuid.UUID
    limit: int
    submission_ids: list[uuid.UUID]
    default: bool


def _request_key(settings: Settings, request_id: uuid.UUID | str) -> str:
    return f"{settings.redis_key_prefix}team-request:{request_id}"


async def _command(
    client: CompetitionsClient,
    user: CurrentUser,
    runtime: RuntimeDep,
    settings: Settings,
    params: dict[str, str],
    build: type[TeamJoinRequested] | type[TeamMergeRequested],
    data: dict[str, object],
) -> Response:
    """Resolve the target team, publish the command keyed by competition, answer 202."""
    resolved = await client.request("GET", "/team-targets", user, params=params)
    if resolved.status_code != 200:
        return relay(resolved)
    target = resolved.json()
    answer = TeamRequestAccepted(
        request_id=uuid.uuid4(),
        competition_id=target["competition_id"],
        team_id=target["team_id"],
    )
    payload = {"request_id": answer.request_id, "competition_id": answer.competition_id, **data}
    event: Event
    if build is TeamJoinRequested:
        event = new_event(
            TeamJoinRequested, "gateway", TeamJoinData(team_id=answer.team_id, **payload)
        )
    else:
        event = new_event(
            TeamMergeRequested, "gateway", TeamMergeData(team_id=answer.team_id, **payload)
        )
    key = _request_key(settings, answer.request_id)
    await runtime.redis.set(key, str(user.user_id), ex=PENDING_TTL_SECONDS)
    await publish(runtime, event, "team request")
    return JSONResponse(answer.model_dump(mode="json"), status_code=202)


@router.post(
    "/v1/competitions/{competition_id}/teams",
    status_code=201,
    response_model=TeamOut,
    summary="Create a team (the creator must be a participant)",
)
async def create_team(
    competition_id: uuid.UUID, body: TeamCreateBody, client: CompetitionsDep, user: UserDep
) -> Response:
    """Create a team with the caller as its first member; the answer holds the invite code."""
    path = f"/competitions/{competition_id}/teams"
    return relay(await client.request("POST", path, user, json=body.model_dump()))


@router.get(
    "/v1/competitions/{competition_id}/teams/mine",
    response_model=TeamOut,
    summary="My team in a competition (404 NO_TEAM for a solo participant)",
)
async def my_team(competition_id: uuid.UUID, client: CompetitionsDep, user: UserDep) -> Response:
    """Return the caller's team, its members and invite code."""
    return relay(await client.request("GET", f"/competitions/{competition_id}/teams/mine", user))


@router.post(
    "/v1/teams/join/{invite_code}",
    status_code=202,
    response_model=TeamRequestAccepted,
    summary="Join a team by its invite link; decided like a join",
)
async def join_team(
    invite_code: str,
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    """Publish `team.join_requested`: the competition's join rules, capacity and the team's
    size limit and merge deadline apply; a newcomer is enrolled on the way."""
    if not 1 <= len(invite_code) <= 64:
        raise Problem(404, "INVALID_INVITE_CODE", "No team has this invite code.")
    return await _command(
        client,
        user,
        runtime,
        settings,
        {"invite_code": invite_code},
        TeamJoinRequested,
        {"user_id": user.user_id, "invite_code": invite_code},
    )


@router.post(
    "/v1/teams/{team_id}/merge",
    status_code=202,
    response_model=TeamRequestAccepted,
    summary="Merge my team into another; decided by the size limit, deadline and daily counts",
)
async def merge_team(
    team_id: uuid.UUID,
    body: MergeBody,
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    """Publish `team.merge_requested`; only a member of `team_id` may ask."""
    return await _command(
        client,
        user,
        runtime,
        settings,
        {"merge_team_id": str(team_id)},
        TeamMergeRequested,
        {"into_team_id": body.into_team_id, "user_id": user.user_id},
    )


@router.get(
    "/v1/teams/requests/{request_id}",
    response_model=TeamRequestOut,
    summary="The outcome of my team join or merge request",
)
async def team_request(
    request_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    """`pending` until competitions decides, then `accepted` or `rejected` with a reason."""
    decided = await client.request("GET", f"/team-requests/{request_id}", user)
    if decided.status_code == 200:
        body = TeamRequestOut.model_validate(decided.json())
        return JSONResponse(body.model_dump(mode="json"))
    if decided.status_code == 404:
        asker = await runtime.redis.get(_request_key(settings, request_id))
        if asker is not None and asker in (str(user.user_id), str(user.user_id).encode()):
            pending = TeamRequestOut(request_id=request_id, status="pending")
            return JSONResponse(pending.model_dump(mode="json"))
    return relay(decided)


@router.get(
    "/v1/competitions/{competition_id}/final-submissions",
    response_model=FinalSelectionOut,
    summary="My team's final submissions for the private board",
)
async def final_submissions(
    competition_id: uuid.UUID, client: CompetitionsDep, user: UserDep
) -> Response:
    """The chosen submissions, or the best K public scores with `default: true`."""
    path = f"/competitions/{competition_id}/final-submissions"
    return relay(await client.request("GET", path, user))


@router.put(
    "/v1/competitions/{competition_id}/final-submissions",
    response_model=FinalSelectionOut,
    summary="Choose up to K submissions for the private board (before the end)",
)
async def select_final_submissions(
    competition_id: uuid.UUID,
    body: Annotated[FinalSelectionBody, Body()],
    client: CompetitionsDep,
    user: UserDep,
) -> Response:
    """Replace the team's selection; 422 when over K or not the team's scored submissions."""
    path = f"/competitions/{competition_id}/final-submissions"
    return relay(await client.request("PUT", path, user, json=body.model_dump(mode="json")))

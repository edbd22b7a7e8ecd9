"""Internal HTTP API of the sponsor's tools, called only by the gateway (SPEC §10.2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from podium_runtime.deps import OutboxDep, RuntimeDep, SessionDep
from pydantic import BaseModel, ConfigDict, Field

from podium_competitions.boards import BoardWriter
from podium_competitions.deps import CallerDep
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.sponsor import service

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.delete("/competitions/{competition_id}/participants/{participant_id}", status_code=204)
async def remove_participant(
    competition_id: uuid.UUID,
    participant_id: uuid.UUID,
    session: SessionDep,
    outbox: OutboxDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    ban: bool = False,
) -> Response:
    """Remove a participant (owner or admin); `ban=true` refuses their later joins."""
    await service.remove_participant(
        session,
        outbox,
        LeaderboardMirror(BoardWriter(runtime.redis)),
        caller,
        competition_id,
        participant_id,
        ban=ban,
    )
    return Response(status_code=204)


class Decision(BaseModel):
    """Body of `POST .../enrollments/{user_id}/decision`."""

    model_config = ConfigDict(extra="forbid")

    accept: bool
    reason: str | None = Field(default=None, max_length=500)


class DecisionOut(BaseModel):
    """The enrollment's status after the owner's decision."""

    user_id: uuid.UUID
    status: Literal["accepted", "rejected"]


class PendingRequest(BaseModel):
    """A join waiting for the owner's decision."""

    user_id: uuid.UUID
    display_name: str
    requested_at: datetime


class PendingRequests(BaseModel):
    """Every join waiting for the owner's decision."""

    items: list[PendingRequest]


@router.post(
    "/competitions/{competition_id}/enrollments/{participant_id}/decision",
    response_model=DecisionOut,
)
async def decide(
    competition_id: uuid.UUID,
    participant_id: uuid.UUID,
    body: Decision,
    session: SessionDep,
    outbox: OutboxDep,
    caller: CallerDep,
) -> DecisionOut:
    """Accept or decline a pending join (owner or admin)."""
    status = await service.decide_enrollment(
        session, outbox, caller, competition_id, participant_id, accept=body.accept
    )
    return DecisionOut.model_validate({"user_id": participant_id, "status": status})


@router.get("/competitions/{competition_id}/enrollments/pending", response_model=PendingRequests)
async def pending(
    competition_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> PendingRequests:
    """Return the joins waiting for the owner's decision."""
    rows = await service.pending_requests(session, caller, competition_id)
    return PendingRequests(
        items=[
            PendingRequest(user_id=r.user_id, display_name=r.name, requested_at=r.updated_at)
            for r in rows
        ]
    )

"""Internal HTTP API of the sponsor's tools, called only by the gateway (SPEC §10.2)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from podium_runtime.deps import OutboxDep, RuntimeDep, SessionDep

from podium_competitions.api import CallerDep
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
        LeaderboardMirror(runtime.redis),
        caller,
        competition_id,
        participant_id,
        ban=ban,
    )
    return Response(status_code=204)

"""Internal endpoint the gateway calls when its read model misses a competition (ADR 0041)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from podium_runtime.deps import RuntimeDep

from podium_competitions.read_model import read_model_of

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/competitions/{competition_id}/read-model", status_code=204)
async def rebuild_read_model(competition_id: uuid.UUID, runtime: RuntimeDep) -> Response:
    """Write the competition's card and members from Postgres (nothing for an unknown id)."""
    await read_model_of(runtime.db).rebuild(competition_id)
    return Response(status_code=204)

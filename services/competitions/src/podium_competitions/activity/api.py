"""Internal operations of activity boards, called only inside the cluster."""

from __future__ import annotations

from fastapi import APIRouter
from podium_runtime.deps import RuntimeDep, SessionDep

from podium_competitions.activity import service
from podium_competitions.activity.mirror import ActivityBoardMirror

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/activity-boards/rebuild")
async def rebuild(session: SessionDep, runtime: RuntimeDep) -> dict[str, int]:
    """Rewrite every activity board's Redis mirror from the points ledger (after a Redis loss)."""
    days = await service.rebuild(session, ActivityBoardMirror(runtime.redis))
    return {"days": days}

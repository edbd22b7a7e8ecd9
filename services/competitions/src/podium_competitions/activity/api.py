"""Internal operations of activity boards, called only inside the cluster."""

from __future__ import annotations

from fastapi import APIRouter
from podium_runtime.deps import RuntimeDep

from podium_competitions.activity import service
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.boards import BoardWriter

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/activity-boards/rebuild")
async def rebuild(runtime: RuntimeDep) -> dict[str, int]:
    """Rewrite every activity board's Redis mirror from the points ledger (after a Redis loss)."""
    mirror = ActivityBoardMirror(BoardWriter(runtime.redis))
    async with runtime.db.session() as session:
        days = await service.rebuild(session, mirror)
    await mirror.writer.flush()  # answer once Redis holds the boards
    return {"days": days}

"""Internal operations of the leaderboard projection, called only inside the cluster."""

from __future__ import annotations

from fastapi import APIRouter
from podium_runtime.deps import RuntimeDep

from podium_competitions.boards import BoardWriter
from podium_competitions.leaderboard import service
from podium_competitions.leaderboard.mirror import LeaderboardMirror

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/leaderboards/rebuild")
async def rebuild(runtime: RuntimeDep) -> dict[str, int]:
    """Rewrite every board's Redis mirror from Postgres (after a Redis loss, SPEC §7.2)."""
    mirror = LeaderboardMirror(BoardWriter(runtime.redis))
    async with runtime.db.session() as session:
        count = await service.rebuild(session, mirror)
    await mirror.writer.flush()  # answer once Redis holds the boards
    return {"boards": count}

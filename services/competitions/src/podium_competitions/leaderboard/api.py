"""Internal operations of the leaderboard projection, called only inside the cluster."""

from __future__ import annotations

from fastapi import APIRouter, Request
from podium_runtime.runtime import ServiceRuntime

from podium_competitions.leaderboard import service
from podium_competitions.leaderboard.mirror import LeaderboardMirror

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/leaderboards/rebuild")
async def rebuild(request: Request) -> dict[str, int]:
    """Rewrite every board's Redis mirror from Postgres (after a Redis loss, SPEC §7.2)."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.db.session() as session:
        count = await service.rebuild(session, LeaderboardMirror(runtime.redis))
    return {"boards": count}

"""The gateway's background jobs (`podium_runtime.jobs`): one store per app, every service's
jobs readable in it. Shared by the routers that launch or show jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from podium_runtime.jobs import JobStore


async def get_jobs(request: Request) -> JobStore:
    """Return the job store (one per app; every service's jobs are visible in it)."""
    store = getattr(request.app.state, "jobs", None)
    if store is None:
        store = JobStore(request.app.state.runtime.redis)
        request.app.state.jobs = store
    return store


JobsDep = Annotated[JobStore, Depends(get_jobs)]

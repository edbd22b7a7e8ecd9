"""Re-flattening raw statements into `statement_facts`, as a background job (SPEC §10.5).

The raw statements are the source of truth; the flattened table is derived
from them by `domain.flatten`. The job walks the raw table in `seq` order, a
page per short transaction, upserts each statement's flattened row and
applies voiding in both directions exactly as the consumer does (a target
voided by an earlier voiding statement, and the targets of this page's
voiding statements), without emitting events. It is therefore safe while the
consumer runs and leaves the table as the incremental path built it; rows
that were missing (a lost or truncated table) are filled in — the
incremental backfill of seed 001 §a.05b.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from podium_runtime.db import Database
from podium_runtime.deps import RuntimeDep
from podium_runtime.jobs import Job, JobProgress, JobStore
from pydantic import BaseModel, ConfigDict

from podium_ingest import repository
from podium_ingest.domain import flatten

router = APIRouter(prefix="/internal", tags=["internal"])

PAGE = 500


class RebuildRequest(BaseModel):
    """Which projection to rebuild."""

    model_config = ConfigDict(extra="forbid")

    target: Literal["statements_flat"]


async def reflatten(
    database: Database, platform_url: str, progress: JobProgress, page: int = PAGE
) -> dict[str, Any]:
    """Flatten every raw statement again; return how many rows were written."""
    async with database.session() as session:
        await progress.total(await repository.count_statements(session))
    after, written = 0, 0
    while True:
        async with database.session() as session:
            raws = await repository.statements_after(session, after, page)
            if not raws:
                break
            rows = [flatten(raw.statement, platform_url) for raw in raws]
            voided = await repository.voided_by_earlier_statements(
                session, [r["statement_id"] for r in rows if not r["is_voiding"]]
            )
            for row in rows:
                row["voided"] = row["statement_id"] in voided
            await repository.upsert_facts(session, rows)
            await repository.mark_voided(session, [r["target_id"] for r in rows if r["is_voiding"]])
        after = raws[-1].seq
        written += len(rows)
        await progress.advance(len(rows))
    return {"statements": written}


@router.post("/rebuilds", status_code=202, response_model=Job)
async def start_rebuild(body: RebuildRequest, request: Request, runtime: RuntimeDep) -> Job:
    """Start re-flattening; follow it with `GET /v1/admin/rebuilds/{job_id}` on the gateway."""
    store = getattr(request.app.state, "jobs", None)
    if store is None:
        store = request.app.state.jobs = JobStore(runtime.redis)
    platform_url = request.app.state.runtime.settings.platform_url

    async def work(progress: JobProgress) -> dict[str, Any]:
        return await reflatten(runtime.db, platform_url, progress)

    return await store.launch("rebuild.statements_flat", work)

"""Operations a sponsor runs on their own competition (issue 18: "sponsors only reach their own
competitions").

The owner (or an admin) of a competition may rebuild its boards, follow that
rebuild and read the audit log about it; everyone else is refused like any
other sponsor route: 404 when they cannot see the competition, else 403
`NOT_OWNER`. Statistics are `GET /v1/competitions/{id}/stats` (competitions
checks the owner there). The jobs are the admin rebuilds' (`POST
/v1/admin/rebuilds`), limited to the competition's own boards, and a job is
only shown through the competition it was started for.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from podium_runtime.jobs import Job
from podium_runtime.problems import Problem
from podium_runtime.problems import problem_responses as problems

from podium_gateway.auth import CurrentUser, UserDep
from podium_gateway.clients import HttpDep, RedisDep, Relayed, SettingsDep, call
from podium_gateway.clients import audit as audit_log
from podium_gateway.clients.audit import AuditorDep, AuditPageDocument
from podium_gateway.clients.competitions import CompetitionsDep, CompetitionView, require_sponsor
from podium_gateway.clients.services import service_url
from podium_gateway.jobs import JobsDep

router = APIRouter(tags=["sponsor tools"])

#: Which competition a sponsor-started rebuild belongs to (kept as long as the job).
SCOPE_PREFIX = "podium:jobs:scope:"
SCOPE_TTL_SECONDS = 7 * 24 * 3600


async def _owned(
    client: CompetitionsDep, competition_id: uuid.UUID, user: CurrentUser
) -> CompetitionView:
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user)
    return competition


@router.get(
    "/v1/competitions/{competition_id}/audit",
    response_model=AuditPageDocument,
    summary="The audit log of my competition (owner)",
    responses=problems(401, 403, 404, 503),
)
async def competition_audit(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    http: HttpDep,
    settings: SettingsDep,
    action: Annotated[str | None, Query(max_length=100, examples=["competition.*"])] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPageDocument:
    """Every recorded action about the competition or something in it (invalidated
    submissions), newest first, whoever did it."""
    await _owned(client, competition_id, user)
    params: dict[str, str | int] = {"competition": str(competition_id), "limit": limit}
    if action is not None:
        params["action"] = action
    if cursor is not None:
        params["cursor"] = cursor
    return await audit_log.page(http, service_url(settings, "identity"), params)


@router.post(
    "/v1/competitions/{competition_id}/rebuilds",
    status_code=202,
    response_model=Job,
    summary="Rebuild my competition's boards (owner)",
    responses=problems(401, 403, 404, 503),
)
async def rebuild_boards(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    http: HttpDep,
    settings: SettingsDep,
    redis_client: RedisDep,
    auditor: AuditorDep,
) -> Job:
    """Rank the boards again from the scores (prediction) or the points ledger (activity),
    as the admin rebuild does; audited. Follow it at `.../rebuilds/{job_id}`."""
    competition = await _owned(client, competition_id, user)
    target = "leaderboards" if competition.kind == "prediction" else "activity_boards"
    answer = await call(
        http,
        "POST",
        f"{service_url(settings, 'competitions')}/internal/v1/rebuilds",
        service="competitions",
        json={"target": target, "competition_id": str(competition_id)},
    )
    if answer.status_code != 202:
        raise Relayed(answer)
    job = Job.model_validate_json(answer.content)
    await redis_client.set(f"{SCOPE_PREFIX}{job.id}", str(competition_id), ex=SCOPE_TTL_SECONDS)
    await auditor(
        user, "projection.rebuild_requested", "projection", f"{target}:{competition_id}",
        after={"job_id": str(job.id)},
    )  # fmt: skip
    return job


@router.get(
    "/v1/competitions/{competition_id}/rebuilds/{job_id}",
    response_model=Job,
    summary="Follow a rebuild of my competition's boards (owner)",
    responses=problems(401, 403, 404),
)
async def show_board_rebuild(
    competition_id: uuid.UUID,
    job_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    redis_client: RedisDep,
    jobs: JobsDep,
) -> Job:
    """`status`, `done`/`total`, `eta_seconds`; 404 for a job of another competition."""
    await _owned(client, competition_id, user)
    scope = await redis_client.get(f"{SCOPE_PREFIX}{job_id}")
    job = await jobs.get(job_id)
    owner_scope = scope.decode() if isinstance(scope, bytes) else scope
    if job is None or owner_scope != str(competition_id):
        raise Problem(404, "NOT_FOUND", "No such rebuild of this competition.")
    return job

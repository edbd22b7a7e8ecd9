"""Internal HTTP API of competition data files, called only by the gateway (SPEC §10.2)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from podium_runtime.db import PG_INTEGER_MAX
from podium_runtime.deps import SessionDep

from podium_competitions.datasets import service
from podium_competitions.datasets.schemas import DataFile, DataFileList, DataFileRegistration
from podium_competitions.deps import CallerDep, MaybeCallerDep

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post("/competitions/{competition_id}/files", status_code=201, response_model=DataFile)
async def register_file(
    competition_id: uuid.UUID, body: DataFileRegistration, session: SessionDep, caller: CallerDep
) -> DataFile:
    """Record a new version of a file the gateway stored (owner or admin)."""
    return await service.register_file(session, caller, competition_id, body)


@router.get("/competitions/{competition_id}/files", response_model=DataFileList)
async def list_files(
    competition_id: uuid.UUID, session: SessionDep, caller: MaybeCallerDep
) -> DataFileList:
    """Return the latest version of each file."""
    return await service.list_files(session, caller, competition_id)


@router.get("/competitions/{competition_id}/files/{name}", response_model=DataFile)
async def get_file(
    competition_id: uuid.UUID,
    name: str,
    session: SessionDep,
    caller: MaybeCallerDep,
    version: Annotated[int | None, Query(ge=1, le=PG_INTEGER_MAX)] = None,
) -> DataFile:
    """Return one version of a file, with its blob key."""
    return await service.get_file(session, caller, competition_id, name, version)


@router.delete("/competitions/{competition_id}/files/{name}", status_code=204)
async def delete_file(
    competition_id: uuid.UUID, name: str, session: SessionDep, caller: CallerDep
) -> Response:
    """Delete a file and its versions (owner or admin)."""
    await service.delete_file(session, caller, competition_id, name)
    return Response(status_code=204)

"""Use cases of competition data files; they flush, never commit (SPEC §10.2).

Who may read the data: the owner and admins, accepted participants, and, for a
public competition whose sponsor set `data_public`, anyone. A private
competition is 404 to strangers like everything about it.
"""

from __future__ import annotations

import uuid

from podium_runtime.db import AnyRow
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository as competitions_repository
from podium_competitions.datasets import repository
from podium_competitions.datasets.schemas import DataFile, DataFileList, DataFileRegistration
from podium_competitions.service import Forbidden, NotFound, _owned, visible_competition
from podium_competitions.views import Caller


def _view(row: AnyRow, *, with_key: bool) -> DataFile:
    return DataFile(
        competition_id=row.competition_id,
        name=row.name,
        version=row.version,
        kind=row.kind,
        description=row.description,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        blob_key=row.blob_key if with_key else None,
    )


async def _readable(
    session: AsyncSession, caller: Caller | None, competition_id: uuid.UUID
) -> None:
    competition = await visible_competition(session, competition_id, caller)
    if competition.visibility == "public" and competition.data_public:
        return
    if caller is not None and (caller.is_admin or caller.user_id == competition.owner_id):
        return
    if caller is not None and await competitions_repository.is_participant(
        session, competition_id, caller.user_id
    ):
        return
    raise Forbidden("NOT_ENROLLED", "join the competition to get its data")


async def register_file(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID, data: DataFileRegistration
) -> DataFile:
    """Record a new version of a named file (owner or admin); the first is version 1."""
    await _owned(session, competition_id, caller)
    # Versions of one competition's files are numbered one at a time.
    await competitions_repository.get_competition(session, competition_id, for_update=True)
    row = await repository.insert_version(
        session,
        {
            "competition_id": competition_id,
            "uploaded_by": caller.user_id,
            **data.model_dump(),
        },
    )
    return _view(row, with_key=False)


async def list_files(
    session: AsyncSession, caller: Caller | None, competition_id: uuid.UUID
) -> DataFileList:
    """Return the latest version of each file to whoever may read the data."""
    await _readable(session, caller, competition_id)
    rows = await repository.latest_files(session, competition_id)
    return DataFileList(items=[_view(r, with_key=False) for r in rows])


async def get_file(
    session: AsyncSession,
    caller: Caller | None,
    competition_id: uuid.UUID,
    name: str,
    version: int | None,
) -> DataFile:
    """Return one version of a file with its blob key (the gateway streams the bytes)."""
    await _readable(session, caller, competition_id)
    row = await repository.get_file(session, competition_id, name, version)
    if row is None:
        raise NotFound("FILE_NOT_FOUND", "no such data file")
    return _view(row, with_key=True)


async def delete_file(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID, name: str
) -> None:
    """Delete a file with all its versions (owner or admin)."""
    await _owned(session, competition_id, caller)
    if not await repository.delete_file(session, competition_id, name):
        raise NotFound("FILE_NOT_FOUND", "no such data file")

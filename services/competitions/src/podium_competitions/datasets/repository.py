"""All SQL of competition data files (STYLE 2)."""

from __future__ import annotations

import uuid
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.datasets.models import data_files

f = data_files.c


async def insert_version(session: AsyncSession, values: dict[str, Any]) -> AnyRow:
    """Store the next version of a named file (the caller holds the competition's lock)."""
    latest = await session.scalar(
        select(func.max(f.version)).where(
            f.competition_id == values["competition_id"], f.name == values["name"]
        )
    )
    row = {**values, "version": (latest or 0) + 1}
    result = await session.execute(insert(data_files).values(**row).returning(data_files))
    inserted: AnyRow = result.one()
    return inserted


async def latest_files(session: AsyncSession, competition_id: uuid.UUID) -> list[AnyRow]:
    """Return the latest version of each file that is not deleted, by name."""
    query = (
        select(data_files)
        .ext(distinct_on(f.name))
        .where(f.competition_id == competition_id, f.deleted_at.is_(None))
        .order_by(f.name, f.version.desc())
    )
    return list((await session.execute(query)).all())


async def get_file(
    session: AsyncSession, competition_id: uuid.UUID, name: str, version: int | None
) -> AnyRow | None:
    """Return one version of a file (the latest without `version`), unless deleted."""
    query = select(data_files).where(
        f.competition_id == competition_id, f.name == name, f.deleted_at.is_(None)
    )
    if version is not None:
        query = query.where(f.version == version)
    return (await session.execute(query.order_by(f.version.desc()).limit(1))).first()


async def delete_file(session: AsyncSession, competition_id: uuid.UUID, name: str) -> int:
    """Hide every version of a file; return how many versions were hidden."""
    result = await session.execute(
        update(data_files)
        .where(f.competition_id == competition_id, f.name == name, f.deleted_at.is_(None))
        .values(deleted_at=func.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""All SQL of the scoring service (STYLE 2)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from podium_runtime.db import AnyRow, DriverStatement
from sqlalchemy import Column, Table, and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncSession

from podium_scoring.models import SCHEMA, answer_keys, competitions, submissions


async def _upsert(
    session: AsyncSession,
    table: Table,
    key: Column[Any],
    key_value: uuid.UUID,
    values: dict[str, Any],
) -> None:
    """Insert the row whose `key` is `key_value`, or overwrite `values` of the existing one."""
    await session.execute(
        insert(table)
        .values({key.name: key_value, **values})
        .on_conflict_do_update(index_elements=[key], set_=values)
    )


async def _get(
    session: AsyncSession, table: Table, key: Column[Any], key_value: uuid.UUID
) -> AnyRow | None:
    """Return the row whose `key` is `key_value`, if there is one."""
    result = await session.execute(select(table).where(key == key_value))
    return result.first()


async def upsert_competition(
    session: AsyncSession,
    *,
    competition_id: uuid.UUID,
    kind: str,
    status: str,
    metric: str | None,
    public_fraction: float | None,
) -> None:
    """Insert or refresh the projection of one competition."""
    values = {
        "kind": kind,
        "status": status,
        "metric": metric,
        "public_fraction": public_fraction,
        "updated_at": func.now(),
    }
    await _upsert(session, competitions, competitions.c.competition_id, competition_id, values)


async def get_competition(session: AsyncSession, competition_id: uuid.UUID) -> AnyRow | None:
    """Return the projection of a competition, or None when no event about it arrived yet."""
    return await _get(session, competitions, competitions.c.competition_id, competition_id)


async def upsert_answer_key(
    session: AsyncSession, competition_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """Record the competition's current answer key (replacing the previous one)."""
    values = {**values, "loaded_at": func.now()}
    await _upsert(session, answer_keys, answer_keys.c.competition_id, competition_id, values)


async def get_answer_key(session: AsyncSession, competition_id: uuid.UUID) -> AnyRow | None:
    """Return the competition's current answer key record."""
    return await _get(session, answer_keys, answer_keys.c.competition_id, competition_id)


async def record_received_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store received submissions as queued in one statement (a redelivered one keeps its id).

    `rows` hold every column of `_Job.received()`, at most one per submission id.
    """
    stmt = insert(submissions).values([{**row, "status": "queued"} for row in rows])
    kept = ("competition_id", "user_id", "blob_key", "sha256", "size_bytes", "submitted_at")
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[submissions.c.submission_id],
            set_={name: stmt.excluded[name] for name in kept},
        )
    )


async def _update_submission(
    session: AsyncSession, submission_id: uuid.UUID, **values: Any
) -> None:
    """Overwrite `values` of one submission's row."""
    await session.execute(
        update(submissions).where(submissions.c.submission_id == submission_id).values(**values)
    )


async def record_outcome(
    session: AsyncSession, submission_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """Store the outcome (scores or errors) of a received submission."""
    await _update_submission(session, submission_id, **values)


@cache
def _record_outcomes(columns: tuple[str, ...]) -> DriverStatement:
    """Return the upsert of rows with `columns`, bound as one array per column (ADR 0100),
    each cast to its column's type as the table declares it.

    One statement text per set of columns (a scored or a rejected outcome), prepared
    once per connection, whatever the number of rows: a multi-row `VALUES` cannot be
    cached by SQLAlchemy and was compiled again for every poll.
    """
    dialect = PGDialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"CAST(:{name} AS {submissions.c[name].type.compile(dialect=dialect)}[])"
        for name in columns
    )
    updated = ", ".join(f"{name} = excluded.{name}" for name in columns if name != "submission_id")
    return DriverStatement(
        text(
            f"INSERT INTO {SCHEMA}.submissions ({', '.join(columns)}) "  # noqa: S608
            f"SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT (submission_id) DO UPDATE SET {updated}"
        )
    )


async def record_outcomes_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store submissions with their outcomes, one statement per set of columns.

    Each row holds every column of `_Job.received()` and of an outcome, at most
    one per submission id; a redelivered submission's row is overwritten. Columns
    a row does not hold (a rejected one has no metric) keep what they held.
    """
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    for columns, group in shapes.items():
        values = {name: [row[name] for row in group] for name in columns}
        if "errors" in values:
            values["errors"] = [json.dumps(errors) for errors in values["errors"]]
        await _record_outcomes(columns).fetch(session, values)


async def mark_invalidated(
    session: AsyncSession, submission_id: uuid.UUID, *, by: uuid.UUID, at: datetime
) -> bool:
    """Mark a submission invalidated; returns False when it is unknown."""
    result = await session.execute(
        update(submissions)
        .where(submissions.c.submission_id == submission_id)
        .values(invalidated_at=func.coalesce(submissions.c.invalidated_at, at), invalidated_by=by)
        .returning(submissions.c.submission_id)
    )
    return result.first() is not None


async def get_submission(session: AsyncSession, submission_id: uuid.UUID) -> AnyRow | None:
    """Return one submission."""
    result = await session.execute(
        select(submissions).where(submissions.c.submission_id == submission_id)
    )
    return result.first()


async def list_submissions(
    session: AsyncSession,
    competition_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[AnyRow]:
    """Return a competition's submissions, newest first, after the keyset cursor `after`."""
    query = select(submissions).where(submissions.c.competition_id == competition_id)
    if user_id is not None:
        query = query.where(submissions.c.user_id == user_id)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                submissions.c.submitted_at < at,
                and_(submissions.c.submitted_at == at, submissions.c.submission_id < last_id),
            )
        )
    query = query.order_by(
        submissions.c.submitted_at.desc(), submissions.c.submission_id.desc()
    ).limit(limit)
    return (await session.execute(query)).all()


async def submissions_to_rescore(
    session: AsyncSession, competition_id: uuid.UUID
) -> Sequence[AnyRow]:
    """Return every submission of a competition that is still on the board, oldest first.

    A rejected submission whose file was already deleted stays as it was.
    """
    query = (
        select(submissions)
        .where(
            submissions.c.competition_id == competition_id,
            submissions.c.invalidated_at.is_(None),
            submissions.c.blob_deleted_at.is_(None),
        )
        .order_by(submissions.c.submitted_at, submissions.c.submission_id)
        .with_for_update()
    )
    return (await session.execute(query)).all()


async def rejected_blobs_due(
    session: AsyncSession, rejected_before: datetime, limit: int
) -> Sequence[AnyRow]:
    """Lock up to `limit` rejected submissions whose file is kept and due for deletion.

    `SKIP LOCKED`: replicas sweeping at once take different rows.
    """
    query = (
        select(submissions.c.submission_id, submissions.c.blob_key)
        .where(
            submissions.c.status == "rejected",
            submissions.c.blob_deleted_at.is_(None),
            submissions.c.scored_at <= rejected_before,
        )
        .order_by(submissions.c.scored_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).all()


async def mark_blobs_deleted(
    session: AsyncSession, submission_ids: Sequence[uuid.UUID], at: datetime
) -> None:
    """Record that these submissions' files are gone."""
    await session.execute(
        update(submissions)
        .where(submissions.c.submission_id.in_(submission_ids))
        .values(blob_deleted_at=at)
    )

"""Prebuilt read-only queries of the ingest service (`podium_runtime.queries`)."""

from __future__ import annotations

from typing import Any

from podium_runtime.queries import Parameter, PrebuiltQuery
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest import repository


async def etl_details(session: AsyncSession) -> dict[str, Any]:
    """The last raw statement stored and how many there are (seed 001 §a.05)."""
    last = await repository.last_statement(session)
    return {
        "statements": await repository.count_statements(session),
        "last_statement_id": str(last.id) if last else None,
        "last_statement_stored": last.stored.isoformat() if last else None,
    }


CATALOGUE = (
    PrebuiltQuery(
        name="statements_per_verb_per_day",
        description="Stored statements per verb and day (UTC) in a date range.",
        sql="""
            SELECT date_trunc('day', stored)::date AS day, verb_id, count(*) AS statements,
                   count(*) FILTER (WHERE voided) AS voided
            FROM ingest.statement_facts
            WHERE stored >= :since AND stored < CAST(:until AS date) + 1
            GROUP BY 1, 2 ORDER BY 1, 3 DESC
        """,
        parameters={"since": Parameter("date"), "until": Parameter("date")},
    ),
    PrebuiltQuery(
        name="recent_statements_of_user",
        description="The latest flattened statements of one platform user.",
        sql="""
            SELECT statement_id, verb_id, activity_id, timestamp, stored, voided
            FROM ingest.statement_facts
            WHERE user_id = :user_id ORDER BY stored DESC LIMIT :limit
        """,
        parameters={
            "user_id": Parameter("uuid"),
            "limit": Parameter("int", required=False, default=50),
        },
    ),
)

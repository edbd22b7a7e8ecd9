"""All SQL of erasure and retention (STYLE 2)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.models import documents, statement_facts, statements


async def delete_statements_of(session: AsyncSession, agent_key: str) -> list[uuid.UUID]:
    """Delete the statements whose actor or object is the agent (raw and flattened); return ids."""
    result = await session.execute(
        delete(statement_facts)
        .where(
            or_(
                statement_facts.c.actor_key == agent_key,
                statement_facts.c.object_agent_key == agent_key,
            )
        )
        .returning(statement_facts.c.statement_id)
    )
    ids = [row[0] for row in result]
    if ids:
        await session.execute(delete(statements).where(statements.c.id.in_(ids)))
    return ids


async def delete_documents_of(session: AsyncSession, agent_key: str) -> int:
    """Delete every State and Agent Profile document of the agent."""
    result = await session.execute(delete(documents).where(documents.c.agent_key == agent_key))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_statements_stored_before(
    session: AsyncSession, cutoff: datetime, limit: int
) -> int:
    """Delete up to `limit` statements stored before `cutoff`; return how many."""
    oldest = (
        select(statements.c.id)
        .where(statements.c.stored < cutoff)
        .order_by(statements.c.stored)
        .limit(limit)
    )
    result = await session.execute(
        delete(statement_facts)
        .where(statement_facts.c.statement_id.in_(oldest.scalar_subquery()))
        .returning(statement_facts.c.statement_id)
    )
    ids = [row[0] for row in result]
    # Raw rows without facts (none are written so, but a partial restore could) go too.
    raw = await session.execute(
        delete(statements)
        .where(or_(statements.c.id.in_(ids), statements.c.id.in_(oldest.scalar_subquery())))
        .returning(statements.c.id)
    )
    return len({row[0] for row in raw} | set(ids))

"""SQL of the erasure (STYLE 2)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.models import participants, statement_facts, statements, users


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Remove the user from the reports, and any statement still attributed to them."""
    for table in (participants, users):
        await session.execute(delete(table).where(table.c.user_id == user_id))
    ids = list(
        await session.scalars(
            select(statement_facts.c.statement_id).where(statement_facts.c.user_id == user_id)
        )
    )
    if ids:
        await session.execute(
            delete(statement_facts).where(statement_facts.c.statement_id.in_(ids))
        )
        await session.execute(delete(statements).where(statements.c.id.in_(ids)))
    return len(ids)

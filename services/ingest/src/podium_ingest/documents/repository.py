"""All SQL of the document resources (STYLE 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.models import documents, statement_facts, statements


@dataclass(frozen=True)
class DocumentKey:
    """Where a document lives; a part that does not apply to its kind is ''."""

    kind: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""
    document_id: str = ""

    def columns(self) -> dict[str, str]:
        """Return the key as column values."""
        return {
            "kind": self.kind,
            "activity_id": self.activity_id,
            "agent_key": self.agent_key,
            "registration": self.registration,
            "document_id": self.document_id,
        }


def _where(key: DocumentKey) -> list[Any]:
    return [documents.c[name] == value for name, value in key.columns().items()]


async def get_document(session: AsyncSession, key: DocumentKey, *, lock: bool = False) -> Any:
    """Return the document row, or None; `lock` holds it until the transaction ends."""
    query = select(documents).where(*_where(key))
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def insert_document(
    session: AsyncSession,
    key: DocumentKey,
    content: bytes,
    content_type: str,
    etag: str,
    updated: datetime,
) -> bool:
    """Create the document unless another writer did first; return whether it was created."""
    result = await session.execute(
        pg_insert(documents)
        .values(
            **key.columns(),
            content=content,
            content_type=content_type,
            etag=etag,
            updated=updated,
        )
        .on_conflict_do_nothing()
        .returning(documents.c.etag)
    )
    return result.first() is not None


async def update_document(
    session: AsyncSession,
    key: DocumentKey,
    content: bytes,
    content_type: str,
    etag: str,
    updated: datetime,
) -> None:
    """Replace the content of a document locked by `get_document(lock=True)`."""
    await session.execute(
        update(documents)
        .where(*_where(key))
        .values(content=content, content_type=content_type, etag=etag, updated=updated)
    )


async def delete_document(session: AsyncSession, key: DocumentKey) -> None:
    """Delete one document."""
    await session.execute(delete(documents).where(*_where(key)))


async def delete_states(
    session: AsyncSession, activity_id: str, agent_key: str, registration: str | None
) -> int:
    """Delete every State document of an agent in an activity (optionally one registration)."""
    conditions = [
        documents.c.kind == "state",
        documents.c.activity_id == activity_id,
        documents.c.agent_key == agent_key,
    ]
    if registration is not None:
        conditions.append(documents.c.registration == registration)
    result = await session.execute(delete(documents).where(*conditions))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def document_ids(
    session: AsyncSession,
    kind: str,
    activity_id: str,
    agent_key: str,
    registration: str | None,
    since: datetime | None,
) -> Sequence[str]:
    """Return the ids of the documents of one owner, optionally changed after `since`."""
    conditions = [
        documents.c.kind == kind,
        documents.c.activity_id == activity_id,
        documents.c.agent_key == agent_key,
    ]
    if registration is not None:
        conditions.append(documents.c.registration == registration)
    if since is not None:
        conditions.append(documents.c.updated > since)
    result = await session.execute(
        select(documents.c.document_id).where(*conditions).distinct().order_by("document_id")
    )
    return [row[0] for row in result]


async def delete_agent_documents(session: AsyncSession, agent_key: str) -> int:
    """Delete every document of an agent (erasure); return how many."""
    result = await session.execute(delete(documents).where(documents.c.agent_key == agent_key))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def activity_statements(
    session: AsyncSession, activity_id: str, limit: int
) -> Sequence[dict[str, Any]]:
    """Return the newest statements whose object is the activity, newest first."""
    result = await session.execute(
        select(statements.c.statement)
        .join(statement_facts, statement_facts.c.statement_id == statements.c.id)
        .where(statement_facts.c.activity_id == activity_id)
        .order_by(statement_facts.c.stored.desc())
        .limit(limit)
    )
    return [row[0] for row in result]

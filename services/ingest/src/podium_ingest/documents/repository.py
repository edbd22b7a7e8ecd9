"""All SQL of the document resources (STYLE 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from podium_runtime.db import DriverStatement
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.models import SCHEMA, documents, statement_facts, statements


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


#: The primary key, as the driver statements below name it.
_KEY = " AND ".join(f"{field.name} = :{field.name}" for field in fields(DocumentKey))
_TABLE = f"{SCHEMA}.documents"
# A State document is read or written by every course player every few seconds: the
# per-document statements run on the driver, compiled once (ADR 0100).
_GET = DriverStatement(
    text(f"SELECT content, content_type, etag, updated FROM {_TABLE} WHERE {_KEY}")  # noqa: S608
)
_GET_LOCKED = DriverStatement(
    text(
        f"SELECT content, content_type, etag, updated FROM {_TABLE} WHERE {_KEY} FOR UPDATE"  # noqa: S608
    )
)
_INSERT = DriverStatement(
    text(
        f"""
    INSERT INTO {_TABLE}
        (kind, activity_id, agent_key, registration, document_id,
         content, content_type, etag, updated)
    VALUES (:kind, :activity_id, :agent_key, :registration, :document_id,
            :content, :content_type, :etag, :updated)
    ON CONFLICT DO NOTHING
    RETURNING etag
    """  # noqa: S608
    )
)
_UPDATE = DriverStatement(
    text(
        f"UPDATE {_TABLE} SET content = :content, content_type = :content_type, "  # noqa: S608
        f"etag = :etag, updated = :updated WHERE {_KEY}"
    )
)
_DELETE = DriverStatement(text(f"DELETE FROM {_TABLE} WHERE {_KEY}"))  # noqa: S608


def _values(
    key: DocumentKey, content: bytes, content_type: str, etag: str, updated: datetime
) -> dict[str, Any]:
    return {
        **key.columns(),
        "content": content,
        "content_type": content_type,
        "etag": etag,
        "updated": updated,
    }


async def get_document(session: AsyncSession, key: DocumentKey, *, lock: bool = False) -> Any:
    """Return the document row (`content`, `content_type`, `etag`, `updated`), or None.

    `lock` holds it until the transaction ends.
    """
    rows = await (_GET_LOCKED if lock else _GET).fetch(session, key.columns())
    return rows[0] if rows else None


async def insert_document(
    session: AsyncSession,
    key: DocumentKey,
    content: bytes,
    content_type: str,
    etag: str,
    updated: datetime,
) -> bool:
    """Create the document unless another writer did first; return whether it was created."""
    return bool(await _INSERT.fetch(session, _values(key, content, content_type, etag, updated)))


async def update_document(
    session: AsyncSession,
    key: DocumentKey,
    content: bytes,
    content_type: str,
    etag: str,
    updated: datetime,
) -> None:
    """Replace the content of a document locked by `get_document(lock=True)`."""
    await _UPDATE.fetch(session, _values(key, content, content_type, etag, updated))


async def delete_document(session: AsyncSession, key: DocumentKey) -> None:
    """Delete one document."""
    await _DELETE.fetch(session, key.columns())


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

"""Use cases of the xAPI document resources: conditional writes, JSON merge, listing (ADR 0026).

Documents are mutable and read back on the next page load, so they are written
synchronously in one transaction each. Concurrency follows xAPI Communication
3.1 (RFC 7232 preconditions on a sha1 ETag): the row is locked while the
precondition is checked, and a document created by two writers at once is
created by exactly one of them (the other sees it and re-checks).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.documents import repository
from podium_ingest.documents.repository import DocumentKey

JSON = "application/json"


class DocumentError(Exception):
    """A refused document request: HTTP status, stable code and reason."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Preconditions:
    """The `If-Match` / `If-None-Match` headers of a write, as sent (None when absent)."""

    if_match: str | None = None
    if_none_match: str | None = None
    #: A PUT over an existing document without either header is a 409 (Comm. 3.1).
    required: bool = False
    #: A PUT creating a document without either header is a 400 (1.0.3 Comm. 2.6, 2.7).
    required_to_create: bool = False


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored."""

    content: bytes
    content_type: str
    etag: str
    updated: datetime


def etag_of(content: bytes) -> str:
    """Return the ETag of a content: its sha1, hexadecimal (xAPI 1.0.3 Comm. 3.1)."""
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()}


def check_preconditions(current: str | None, wanted: Preconditions) -> None:
    """Raise 412 when a precondition fails, 409 when a required one is missing (Comm. 3.1)."""
    if wanted.if_match is not None:
        tags = _tags(wanted.if_match)
        if current is None or ("*" not in tags and current not in tags):
            raise DocumentError(
                412, "PRECONDITION_FAILED", "If-Match does not match the current document."
            )
    if wanted.if_none_match is not None and current is not None:
        tags = _tags(wanted.if_none_match)
        if "*" in tags or current in tags:
            raise DocumentError(
                412, "PRECONDITION_FAILED", "If-None-Match: the document already exists."
            )
    blind = wanted.if_match is None and wanted.if_none_match is None
    if blind and wanted.required_to_create and current is None:
        raise DocumentError(
            400,
            "PRECONDITION_REQUIRED",
            "Send If-None-Match: * to create this document, or If-Match with the ETag of the "
            "one you replace (xAPI Communication 2.6, 2.7, 3.1).",
        )
    if blind and wanted.required and current is not None:
        raise DocumentError(
            409,
            "PRECONDITION_REQUIRED",
            "The document exists: send If-Match with its ETag (or If-None-Match: *) to "
            "overwrite it (xAPI Communication 3.1).",
        )


def _is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == JSON


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(400, "DOCUMENT_NOT_JSON", f"The {what} is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise DocumentError(400, "DOCUMENT_NOT_JSON", f"The {what} is not a JSON object.")
    return value


def merged_content(
    existing: StoredDocument | None, content: bytes, content_type: str
) -> tuple[bytes, str]:
    """Return the content a POST stores: the JSON merge of xAPI Communication 2.2.

    Both documents must be JSON objects; the posted top-level properties replace
    the stored ones and the others are kept.
    """
    if not _is_json(content_type):
        raise DocumentError(
            400, "DOCUMENT_NOT_JSON", "POST merges JSON documents: send application/json."
        )
    posted = _json_object(content, "posted document")
    if existing is None:
        return orjson.dumps(posted), JSON
    if not _is_json(existing.content_type):
        raise DocumentError(
            400,
            "DOCUMENT_NOT_JSON",
            "The stored document is not JSON, so it cannot be merged; PUT it instead.",
        )
    stored = _json_object(existing.content, "stored document")
    return orjson.dumps({**stored, **posted}), JSON


def _stored(row: Any) -> StoredDocument:
    return StoredDocument(row["content"], row["content_type"], row["etag"], row["updated"])


async def write_document(
    session: AsyncSession,
    key: DocumentKey,
    content: bytes,
    content_type: str,
    *,
    merge: bool,
    preconditions: Preconditions,
) -> StoredDocument:
    """PUT (replace) or POST (merge) a document under its preconditions; return what is stored."""
    while True:
        row = await repository.get_document(session, key, lock=True)
        existing = _stored(row) if row is not None else None
        check_preconditions(existing.etag if existing else None, preconditions)
        if merge:
            body, media_type = merged_content(existing, content, content_type)
        else:
            body, media_type = content, content_type
        document = StoredDocument(body, media_type, etag_of(body), datetime.now(UTC))
        if existing is not None:
            await repository.update_document(
                session, key, body, media_type, document.etag, document.updated
            )
            return document
        if await repository.insert_document(
            session, key, body, media_type, document.etag, document.updated
        ):
            return document
        # Another writer created it after our read: lock it and decide again.


async def read_document(session: AsyncSession, key: DocumentKey) -> StoredDocument | None:
    """Return one document, or None."""
    row = await repository.get_document(session, key)
    return _stored(row) if row is not None else None


async def delete_document(
    session: AsyncSession, key: DocumentKey, preconditions: Preconditions
) -> None:
    """Delete one document when its preconditions hold (deleting nothing is not an error)."""
    row = await repository.get_document(session, key, lock=True)
    check_preconditions(row["etag"] if row is not None else None, preconditions)
    if row is not None:
        await repository.delete_document(session, key)


async def list_document_ids(
    session: AsyncSession,
    kind: str,
    activity_id: str,
    agent_key: str,
    registration: str | None,
    since: datetime | None,
) -> list[str]:
    """Return the ids of an owner's documents, those changed after `since` when given."""
    return list(
        await repository.document_ids(session, kind, activity_id, agent_key, registration, since)
    )


async def delete_states(
    session: AsyncSession, activity_id: str, agent_key: str, registration: str | None
) -> int:
    """Delete every State document of an agent in an activity (optionally one registration)."""
    return await repository.delete_states(session, activity_id, agent_key, registration)


def _merge_definition(into: dict[str, Any], definition: dict[str, Any]) -> None:
    for name, value in definition.items():
        if isinstance(value, dict) and name in ("name", "description"):
            into.setdefault(name, {}).update(value)
        elif isinstance(value, dict) and name == "extensions":
            into.setdefault(name, {}).update(value)
        else:
            into[name] = value


def _definitions(value: Any, activity_id: str, found: list[dict[str, Any]]) -> None:
    """Collect the definitions given for `activity_id` anywhere in a statement."""
    if isinstance(value, dict):
        if value.get("id") == activity_id and isinstance(value.get("definition"), dict):
            if value.get("objectType", "Activity") == "Activity":
                found.append(value["definition"])
        for item in value.values():
            _definitions(item, activity_id, found)
    elif isinstance(value, list):
        for item in value:
            _definitions(item, activity_id, found)


async def activity(session: AsyncSession, activity_id: str, limit: int = 200) -> dict[str, Any]:
    """Return the Activity with its definition merged from the statements naming it.

    Older definitions are applied first, so the newest wins per property and
    language maps keep every language ever given (xAPI Communication 2.5).
    """
    newest_first = await repository.activity_statements(session, activity_id, limit)
    definition: dict[str, Any] = {}
    for statement in reversed(newest_first):
        found: list[dict[str, Any]] = []
        _definitions(statement, activity_id, found)
        for item in found:
            _merge_definition(definition, item)
    result: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result

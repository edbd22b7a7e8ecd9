"""Internal API of the xAPI document resources, called only by the gateway (ADR 0026).

The gateway validates the xAPI parameters and turns the agent into its key;
these routes store and read the documents under that key, synchronously.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from podium_runtime.deps import SessionDep
from podium_runtime.problems import Problem

from podium_ingest.deps import ConsistencyDep
from podium_ingest.documents import service
from podium_ingest.documents.repository import DocumentKey
from podium_ingest.documents.service import DocumentError, Preconditions, StoredDocument

Kind = Literal["state", "activity_profile", "agent_profile"]
#: Longest the Activities resource waits for acknowledged statements to be stored.
ACKNOWLEDGED_WAIT_SECONDS = 5.0
#: Largest document accepted (the gateway's body limit applies first).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

router = APIRouter(prefix="/internal", tags=["internal"])


def _headers(document: StoredDocument) -> dict[str, str]:
    return {
        "ETag": f'"{document.etag}"',
        "Last-Modified": format_datetime(document.updated.astimezone(UTC), usegmt=True),
    }


def _problem(exc: DocumentError) -> Problem:
    return Problem(exc.status, exc.code, exc.detail)


@router.put("/documents/{kind}", status_code=204)
async def write_document(
    request: Request,
    kind: Kind,
    document_id: str,
    session: SessionDep,
    activity_id: str = "",
    agent_key: str = "",
    registration: str = "",
    merge: bool = False,
    required: bool = False,
    required_to_create: bool = False,
    content_type: Annotated[str, Header()] = "application/octet-stream",
    if_match: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Replace (or with `merge`, JSON-merge) one document under its preconditions."""
    content = await request.body()
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Problem(413, "DOCUMENT_TOO_LARGE", "The document is too large.")
    where = DocumentKey(kind, activity_id, agent_key, registration, document_id)
    try:
        stored = await service.write_document(
            session,
            where,
            content,
            content_type,
            merge=merge,
            preconditions=Preconditions(if_match, if_none_match, required, required_to_create),
        )
    except DocumentError as exc:
        raise _problem(exc) from exc
    return Response(status_code=204, headers=_headers(stored))


@router.get("/documents/{kind}")
async def read_document(
    kind: Kind,
    document_id: str,
    session: SessionDep,
    activity_id: str = "",
    agent_key: str = "",
    registration: str = "",
) -> Response:
    """Return one document with its content type, ETag and Last-Modified."""
    stored = await service.read_document(
        session, DocumentKey(kind, activity_id, agent_key, registration, document_id)
    )
    if stored is None:
        raise Problem(404, "DOCUMENT_NOT_FOUND", f"No document {document_id!r}.")
    return Response(stored.content, media_type=stored.content_type, headers=_headers(stored))


@router.get("/documents/{kind}/ids")
async def document_ids(
    kind: Kind,
    session: SessionDep,
    activity_id: str = "",
    agent_key: str = "",
    registration: str | None = None,
    since: datetime | None = None,
) -> dict[str, list[str]]:
    """Return the ids of an owner's documents (those changed after `since`)."""
    ids = await service.list_document_ids(
        session, kind, activity_id, agent_key, registration, since
    )
    return {"ids": ids}


@router.delete("/documents/{kind}", status_code=204)
async def delete_document(
    kind: Kind,
    document_id: str,
    session: SessionDep,
    activity_id: str = "",
    agent_key: str = "",
    registration: str = "",
    if_match: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Delete one document under its preconditions."""
    try:
        await service.delete_document(
            session,
            DocumentKey(kind, activity_id, agent_key, registration, document_id),
            Preconditions(if_match, if_none_match),
        )
    except DocumentError as exc:
        raise _problem(exc) from exc
    return Response(status_code=204)


@router.delete("/states", status_code=204)
async def delete_states(
    activity_id: str, agent_key: str, session: SessionDep, registration: str | None = None
) -> Response:
    """Delete every State document of an agent in an activity (optionally one registration)."""
    await service.delete_states(session, activity_id, agent_key, registration)
    return Response(status_code=204)


@router.get("/activities")
async def activity(
    activity_id: Annotated[str, Query(min_length=1)],
    session: SessionDep,
    consistency: ConsistencyDep,
) -> dict[str, object]:
    """Return the Activity with its definition merged from the statements naming it."""
    # Definitions come from statements: include those acknowledged before this request.
    await consistency.await_acknowledged(timeout=ACKNOWLEDGED_WAIT_SECONDS)
    return await service.activity(session, activity_id)

"""Competition data files of the public API (SPEC §10.2).

Uploads stream from the request to the blob store a chunk at a time (S3
multipart where configured), hashing on the way, so a GiB-sized file is never
held in memory; the competitions service then records the new version.
Downloads stream back from the blob store with `ETag` (the sha256) and single
`Range` requests, or, on S3, redirect to a short-lived presigned URL. Who may
read the data is decided by the competitions service (404 to strangers of a
private competition).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from podium_runtime.blobs import CHUNK_SIZE, BlobNotFoundError
from podium_runtime.db import PG_INTEGER_MAX
from podium_runtime.problems import Problem
from pydantic import BaseModel

from podium_gateway.auth import OptionalUserDep, UserDep
from podium_gateway.clients import SettingsDep, relay
from podium_gateway.clients.audit import AuditorDep
from podium_gateway.clients.competitions import CompetitionsDep, require_sponsor
from podium_gateway.uploads import BlobDep

router = APIRouter(tags=["data files"])

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class DataFileOut(BaseModel):
    """One version of a data file."""

    competition_id: uuid.UUID
    name: str
    version: int
    kind: Literal["train", "test", "sample", "other"]
    description: str
    size: int
    sha256: str
    created_at: str


class DataFileListOut(BaseModel):
    """The latest version of each data file of a competition."""

    items: list[DataFileOut]


def _file_name(upload: UploadFile, name: str | None) -> str:
    chosen = name or (upload.filename or "").rsplit("/", 1)[-1]
    if not _NAME.match(chosen):
        raise Problem(
            422,
            "INVALID_FILE_NAME",
            "A file name has letters, digits, '.', '_' and '-' and starts with a letter or digit.",
        )
    return chosen


def _stored_name(name: str) -> str:
    """Return `name` if a stored file could have it; anything else names no file (404).

    The name becomes a segment of the competitions service's path, so `..`, `?` or
    `%` must never reach it.
    """
    if not _NAME.match(name):
        raise Problem(404, "FILE_NOT_FOUND", "No data file has this name.")
    return name


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_SIZE):
        yield chunk


@router.post(
    "/v1/competitions/{competition_id}/files",
    status_code=201,
    response_model=DataFileOut,
    summary="Upload a data file (owner); the same name again is a new version",
)
async def upload_file(
    competition_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="The data file (any format)")],
    client: CompetitionsDep,
    user: UserDep,
    blobs: BlobDep,
    auditor: AuditorDep,
    description: Annotated[str, Form(max_length=5000)] = "",
    kind: Annotated[Literal["train", "test", "sample", "other"], Form()] = "other",
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Stream the file to the blob store, then record it: `{name, version, size, sha256, ...}`.

    Audited as `competition.file_uploaded`."""
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user, "upload data")
    file_name = _file_name(file, name)
    key = f"datasets/{competition_id}/{uuid.uuid4()}"
    ref = await blobs.put_stream(key, _chunks(file))
    registration = {
        "name": file_name,
        "kind": kind,
        "description": description,
        "size": ref.size,
        "sha256": ref.sha256,
        "blob_key": ref.key,
    }
    answer = await client.request(
        "POST", f"/competitions/{competition_id}/files", user, json=registration
    )
    if answer.status_code != 201:
        await blobs.delete(key)
        return relay(answer)
    stored = DataFileOut.model_validate(answer.json())
    await auditor(
        user, "competition.file_uploaded", "competition", competition_id,
        after={"name": stored.name, "version": stored.version, "sha256": stored.sha256},
    )  # fmt: skip
    return JSONResponse(stored.model_dump(mode="json"), status_code=201)


@router.get(
    "/v1/competitions/{competition_id}/files",
    response_model=DataFileListOut,
    summary="The competition's data files (participants, or anyone when data_public)",
)
async def list_files(
    competition_id: uuid.UUID, client: CompetitionsDep, user: OptionalUserDep
) -> Response:
    """The latest version of each file."""
    answer = await client.request("GET", f"/competitions/{competition_id}/files", user)
    if answer.status_code != 200:
        return relay(answer)
    return JSONResponse(DataFileListOut.model_validate(answer.json()).model_dump(mode="json"))


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Read a single `Range: bytes=a-b` (suffix and open ranges too); None: the whole file."""
    if not header:
        return None
    found = _RANGE.match(header.strip())
    if found is None or (not found.group(1) and not found.group(2)):
        return None  # RFC 9110 §14.2: an unreadable Range is ignored
    first, last = found.groups()
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise Problem(
            416,
            "RANGE_NOT_SATISFIABLE",
            f"The file has {size} bytes.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


@router.get(
    "/v1/competitions/{competition_id}/files/{name}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {}, 307: {}},
    summary="Download a data file (Range supported; 404 to strangers)",
)
async def download_file(
    competition_id: uuid.UUID,
    name: str,
    client: CompetitionsDep,
    user: OptionalUserDep,
    blobs: BlobDep,
    settings: SettingsDep,
    version: Annotated[int | None, Query(ge=1, le=PG_INTEGER_MAX)] = None,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The bytes, streamed; `ETag` is the sha256. On S3 a redirect to a presigned URL."""
    params = {"version": version} if version else None
    path = f"/competitions/{competition_id}/files/{_stored_name(name)}"
    answer = await client.request("GET", path, user, params=params)
    if answer.status_code != 200:
        return relay(answer)
    meta = answer.json()
    url = await blobs.presigned_url(meta["blob_key"], settings.dataset_url_seconds)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    size = int(meta["size"])
    wanted = _byte_range(range_header, size)
    start, end = wanted if wanted is not None else (0, size - 1)
    headers = {
        "ETag": f'"{meta["sha256"]}"',
        "Accept-Ranges": "bytes",
        "Content-Length": str(max(0, end - start + 1)),
        "Content-Disposition": f'attachment; filename="{meta["name"]}"',
        "Cache-Control": "private, no-store",
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    try:
        await blobs.size(meta["blob_key"])
    except BlobNotFoundError:
        raise Problem(404, "FILE_NOT_FOUND", "The file's bytes are missing.") from None
    body = blobs.iter_range(meta["blob_key"], start, end) if size else _nothing()
    return StreamingResponse(
        body,
        status_code=206 if wanted is not None else 200,
        media_type="application/octet-stream",
        headers=headers,
    )


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@router.delete(
    "/v1/competitions/{competition_id}/files/{name}",
    status_code=204,
    summary="Delete a data file and its versions (owner)",
)
async def delete_file(
    competition_id: uuid.UUID,
    name: str,
    client: CompetitionsDep,
    user: UserDep,
    auditor: AuditorDep,
) -> Response:
    """Hide every version of the file. Audited as `competition.file_deleted`."""
    answer = await client.request(
        "DELETE", f"/competitions/{competition_id}/files/{_stored_name(name)}", user
    )
    if answer.status_code != 204:
        return relay(answer)
    await auditor(
        user, "competition.file_deleted", "competition", competition_id, after={"name": name}
    )
    return Response(status_code=204)

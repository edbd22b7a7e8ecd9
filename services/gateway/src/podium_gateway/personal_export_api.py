"""Personal-data export routes (SPEC §10.5, ADR 0058): ask, follow, download.

`POST /v1/users/me/export` (and `GET`, which answers the current export or
starts one) is 202 with the export's id; `GET /v1/users/me/export/{id}` shows
its progress and, once ready, a short-lived download link; the archive itself
is only ever given to its owner, with a live link. Another user's export is a
404, like every object-level refusal (SPEC §8).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from podium_runtime.blobs import BlobNotFoundError
from podium_runtime.problems import Problem
from podium_runtime.problems import problem_responses as problems

from podium_gateway.auth import UserDep
from podium_gateway.clients import SettingsDep
from podium_gateway.personal_export import ExportDocument, ExportsDep, PersonalExports
from podium_gateway.uploads import BlobDep

router = APIRouter(tags=["personal data"])


async def _accepted(exports: PersonalExports, user: UserDep, request: Request) -> Response:
    record = await exports.request(user.user_id)
    document = await exports.document(record, with_link=False)
    location = str(request.url_for("show_export", export_id=str(record.id)).path)
    return JSONResponse(
        document.model_dump(mode="json"), status_code=202, headers={"Location": location}
    )


@router.post(
    "/v1/users/me/export",
    status_code=202,
    response_model=ExportDocument,
    summary="Export everything Podium holds about me (asynchronous)",
    responses=problems(401, 503),
)
async def request_export(exports: ExportsDep, user: UserDep, request: Request) -> Response:
    """Start building a zip of JSON files (profile, enrollments, submissions and scores,
    notifications, learning records, rewards); 202 with its id. While one is being built
    or can still be downloaded, that one is answered instead of starting another. A
    notification (in-app and e-mail) says when it is ready."""
    return await _accepted(exports, user, request)


@router.get(
    "/v1/users/me/export",
    status_code=202,
    response_model=ExportDocument,
    summary="My current export, started if there is none",
    responses=problems(401, 503),
)
async def current_export(exports: ExportsDep, user: UserDep, request: Request) -> Response:
    """The export being built or ready for download; a new one when there is none (202)."""
    return await _accepted(exports, user, request)


@router.get(
    "/v1/users/me/export/{export_id}",
    response_model=ExportDocument,
    summary="Follow my export; a download link once it is ready",
    responses=problems(401, 404),
)
async def show_export(export_id: uuid.UUID, exports: ExportsDep, user: UserDep) -> ExportDocument:
    """`status`: queued, running, ready (with `download_url`, valid a few minutes), failed or
    expired (the archive was deleted `expires_at`)."""
    record = await exports.owned(export_id, user.user_id)
    if record is None:
        raise Problem(404, "NOT_FOUND", "No such export.")
    return await exports.document(record, with_link=True)


@router.get(
    "/v1/users/me/export/{export_id}/archive",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}},
        307: {"description": "S3 blob store: a presigned URL"},
        **problems(401, 403, 404, 409, 410),
    },
    summary="Download my export (owner, with a live link)",
)
async def download_export(
    export_id: uuid.UUID,
    exports: ExportsDep,
    user: UserDep,
    blobs: BlobDep,
    settings: SettingsDep,
    token: Annotated[str, Query(min_length=20, max_length=100)],
) -> Response:
    """The zip; 403 `DOWNLOAD_LINK_EXPIRED` for a dead link (ask `GET .../{id}` for a new one),
    409 `EXPORT_NOT_READY`, 410 `EXPORT_EXPIRED`."""
    record = await exports.owned(export_id, user.user_id)
    if record is None:
        raise Problem(404, "NOT_FOUND", "No such export.")
    if record.expired:
        raise Problem(410, "EXPORT_EXPIRED", "The archive was deleted; ask for a new export.")
    if record.blob_key is None:
        raise Problem(409, "EXPORT_NOT_READY", "The archive is still being built.")
    if not await exports.link_valid(export_id, token):
        raise Problem(403, "DOWNLOAD_LINK_EXPIRED", "This download link is not valid (any more).")
    url = await blobs.presigned_url(record.blob_key, settings.export_link_seconds)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    try:
        size = await blobs.size(record.blob_key)
    except BlobNotFoundError:
        raise Problem(410, "EXPORT_EXPIRED", "The archive was deleted.") from None
    return StreamingResponse(
        blobs.iter_range(record.blob_key, 0, size - 1),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="podium-export-{export_id}.zip"',
            "Cache-Control": "private, no-store",
            "ETag": f'"{record.sha256}"',
        },
    )

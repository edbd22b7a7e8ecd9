"""Where uploaded files go: the blob store dependency, submission keys, bounded reads.

Shared by the routers that take files (submissions, answer keys, baselines,
data files) so that none of them imports another router.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, UploadFile
from podium_runtime.blobs import BlobStore, create_blob_store
from podium_runtime.problems import Problem


def app_blob_store(request: Request) -> BlobStore:
    """Return the app's blob store, built on first use (no I/O at import, STYLE 8)."""
    state = request.app.state
    store: BlobStore | None = getattr(state, "blobs", None)
    if store is None:
        store = create_blob_store(state.settings.blob)
        state.blobs = store
    return store


async def blob_store(request: Request) -> BlobStore:
    """The app's blob store as a route dependency (`BlobDep`)."""
    return app_blob_store(request)


BlobDep = Annotated[BlobStore, Depends(blob_store)]


def answer_key_blob_key(competition_id: uuid.UUID, sha256: str) -> str:
    """Return where an answer key with this digest is stored in the blob store."""
    return f"answer-keys/{competition_id}/{sha256}.csv"


def submission_blob_key(competition_id: uuid.UUID, submission_id: uuid.UUID) -> str:
    """Return where a submission's file is stored in the blob store."""
    return f"submissions/{competition_id}/{submission_id}.csv"


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """Read an upload, refusing it as soon as it is larger than `limit` (SPEC §5.3: 413)."""
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, "PAYLOAD_TOO_LARGE", f"The file exceeds {limit} bytes.")
    return data

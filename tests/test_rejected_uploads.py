"""Rejected uploads are bounded: a daily limit of their own, and their files are deleted (ADR 0057).

A rejected file gives its daily slot back (SPEC §7.1), so without a limit of
its own a participant could upload invalid files without end, and every one
of them stayed in the blob store. Here the gateway allows two rejected uploads
a day and scoring deletes a rejected file at its next sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as redis
from podium_contracts.redis_keys import daily_rejections_key, daily_submissions_key, utc_day
from podium_gateway.uploads import submission_blob_key
from podium_runtime.blobs import LocalBlobStore
from podium_runtime.testing import TestInfrastructure, eventually
from submissions_support.stack import PredictionStack, answer_key, prediction_stack, predictions_csv

REJECTED_LIMIT = 2
BAD = b"id,target\nnobody,0.5\n"


@pytest.fixture(scope="module")
async def blob_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rejected-uploads")


@pytest.fixture(scope="module")
async def stack(test_infra: TestInfrastructure, blob_dir: Path) -> AsyncIterator[PredictionStack]:
    async with prediction_stack(
        test_infra,
        blob_dir,
        gateway={"daily_rejected_upload_limit": REJECTED_LIMIT},
        scoring={"rejected_blob_retention_seconds": 0, "rejected_blob_sweep_seconds": 0.2},
    ) as running:
        yield running


async def test_rejected_uploads_count_against_their_own_daily_limit_and_their_files_go(
    stack: PredictionStack, blob_dir: Path, test_infra: TestInfrastructure
) -> None:
    owner, player, other = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    competition = await stack.prediction_competition(owner, daily_submission_limit=50)
    cid = competition["id"]
    csv, ids, targets = answer_key(seed=11, rows=40)
    await stack.upload_key(cid, owner, csv)
    await stack.join(cid, player, timeout=30)
    await stack.join(cid, other, timeout=30)
    good = predictions_csv(ids, targets * 0.7 + 0.1)
    store = LocalBlobStore(blob_dir / "blobs")
    client = redis.from_url(test_infra.infra.redis_url)
    rejections = daily_rejections_key(
        uuid.UUID(cid), uuid.UUID(player.user_id), utc_day(datetime.now(UTC))
    )
    try:
        rejected = []
        for _ in range(REJECTED_LIMIT):
            made = await stack.submit(cid, player, BAD)
            assert made.status_code == 202, made.text
            judged = await stack.outcome(made.json()["id"], player, timeout=60)
            assert judged["status"] == "rejected"
            rejected.append(made.json()["id"])

        # Competitions counts each rejection when it gives the slot back.
        async def counted() -> bool:
            return int(await client.scard(rejections)) == REJECTED_LIMIT

        await eventually(counted, timeout=30, message="rejections counted")

        # The next upload, valid or not, is refused until the day ends.
        refused = await stack.submit(cid, player, good)
        assert refused.status_code == 429, refused.text
        problem = refused.json()
        assert problem["code"] == "RATE_LIMIT_EXCEEDED"
        assert problem["limit_name"] == "daily_rejected_uploads"
        assert (problem["limit"], problem["used"]) == (REJECTED_LIMIT, REJECTED_LIMIT)
        assert int(refused.headers["Retry-After"]) > 0
        # Other participants are not affected.
        fine = await stack.submit(cid, other, good)
        assert fine.status_code == 202, fine.text

        # Redis loses its data: the count is rebuilt from scoring's records.
        slots = daily_submissions_key(
            uuid.UUID(cid), uuid.UUID(player.user_id), utc_day(datetime.now(UTC))
        )
        await client.delete(rejections, slots)
        again = await stack.submit(cid, player, good)
        assert again.status_code == 429, again.text
        assert again.json()["used"] == REJECTED_LIMIT

        # The rejected files are deleted; the outcome and its errors stay readable.
        async def deleted() -> bool:
            keys = [submission_blob_key(uuid.UUID(cid), uuid.UUID(sid)) for sid in rejected]
            return not any([await store.exists(key) for key in keys])

        await eventually(deleted, timeout=30, message="rejected files deleted")
        for sid in rejected:
            view = await stack.http.get(f"/v1/submissions/{sid}", headers=player.auth)
            assert view.json()["status"] == "rejected" and view.json()["errors"]
            download = await stack.http.get(f"/v1/submissions/{sid}/file", headers=owner.auth)
            assert download.status_code == 404
        # A scored file is kept.
        assert await store.exists(submission_blob_key(uuid.UUID(cid), uuid.UUID(fine.json()["id"])))
    finally:
        await client.aclose()

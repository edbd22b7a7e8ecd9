"""Background jobs of the scoring service."""

from __future__ import annotations

import asyncio
import logging

from podium_runtime.blobs import BlobStore
from podium_runtime.failures import FailureLog
from podium_runtime.runtime import BackgroundTask, ServiceRuntime

from podium_scoring import service

log = logging.getLogger(__name__)


def rejected_blob_sweep(
    runtime: ServiceRuntime, blobs: BlobStore, retention_seconds: float, interval: float
) -> BackgroundTask:
    """Return the job that deletes rejected submissions' files after their retention (ADR 0057).

    Safe with several replicas: each sweep locks the rows it deletes (`SKIP LOCKED`).
    """
    failures = FailureLog(log)

    async def sweep_rejected_blobs() -> None:
        while True:
            try:
                while True:
                    async with runtime.db.session() as session:
                        deleted = await service.delete_rejected_blobs(
                            session, blobs, retention_seconds
                        )
                    if deleted:
                        log.info("rejected submission files deleted", extra={"count": deleted})
                    if deleted < 100:
                        break
                failures.recovered()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures.log(logging.WARNING, "rejected-file sweep failed; retrying", exc)
            await asyncio.sleep(interval)

    return sweep_rejected_blobs

"""Background jobs of the competitions service."""

from __future__ import annotations

import asyncio
import logging

from podium_runtime.runtime import BackgroundTask, ServiceRuntime

from podium_competitions import service

log = logging.getLogger(__name__)


def auto_end(runtime: ServiceRuntime, interval: float) -> BackgroundTask:
    """Return the job that ends active competitions once `ends_at` passed (SPEC §5.2).

    Safe with several replicas: each competition is ended by a single conditional UPDATE,
    and its `competition.updated` is staged in that same transaction.
    """
    assert runtime.outbox is not None
    outbox = runtime.outbox

    async def auto_end_competitions() -> None:
        while True:
            try:
                async with runtime.db.session() as session:
                    ended = await service.end_due_competitions(session, outbox)
                if ended:
                    log.info("competitions ended", extra={"count": ended})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auto-end sweep failed; retrying")
            await asyncio.sleep(interval)

    return auto_end_competitions

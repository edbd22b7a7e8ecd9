"""Background jobs with progress, kept in Redis (SPEC §10.5: `done`, `total`, `eta_seconds`).

A job is started by one request and read by others, possibly on another
replica or through the gateway, so its state lives in Redis under one key
space shared by every service (`podium:jobs:<id>`, kept `ttl_seconds` after it
was last touched); job ids are random UUIDs. `JobStore.launch()` runs the
work as a task of the current process and records its outcome; the work
reports progress through `JobProgress`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import redis.asyncio as redis
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

#: The key space of every service's jobs, so the gateway can show any of them.
JOBS_PREFIX = "podium:jobs:"

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class Job(BaseModel):
    """A job's state as `GET .../{job_id}` shows it."""

    id: uuid.UUID
    kind: str
    status: JobStatus
    done: int = 0
    total: int | None = None
    eta_seconds: float | None = Field(default=None, description="Estimate while running")
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def with_eta(self, now: float) -> Job:
        """Return the job with its remaining time estimated from the rate so far."""
        if self.status != "running" or not self.started_at or not self.total or not self.done:
            return self
        rate = self.done / max(now - self.started_at, 1e-6)
        return self.model_copy(update={"eta_seconds": round((self.total - self.done) / rate, 1)})


class JobProgress:
    """What a running job reports: its total, then how much is done."""

    def __init__(self, store: JobStore, job: Job) -> None:
        self.store = store
        self.job = job

    async def total(self, total: int) -> None:
        """Say how many items the job will process."""
        self.job = self.job.model_copy(update={"total": total})
        await self.store.save(self.job)

    async def advance(self, count: int = 1) -> None:
        """Count `count` more items done."""
        self.job = self.job.model_copy(update={"done": self.job.done + count})
        await self.store.save(self.job)


Work = Callable[[JobProgress], Awaitable[dict[str, Any]]]


class JobStore:
    """Job states in Redis under `<prefix>job:<id>`."""

    def __init__(
        self, client: redis.Redis, prefix: str = JOBS_PREFIX, ttl_seconds: int = 7 * 24 * 3600
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, job_id: uuid.UUID) -> str:
        return f"{self.prefix}job:{job_id}"

    async def save(self, job: Job) -> None:
        """Store the job's current state."""
        await self.redis.set(self._key(job.id), job.model_dump_json(), ex=self.ttl_seconds)

    async def get(self, job_id: uuid.UUID) -> Job | None:
        """Return the job with its ETA, or None when unknown (or expired)."""
        raw = await self.redis.get(self._key(job_id))
        if raw is None:
            return None
        return Job.model_validate(json.loads(raw)).with_eta(time.time())

    async def launch(self, kind: str, work: Work, job_id: uuid.UUID | None = None) -> Job:
        """Record a queued job and run `work` in the background; return the queued job.

        `job_id` lets the caller record what the job is about under its id first.
        """
        job = Job(id=job_id or uuid.uuid4(), kind=kind, status="queued", created_at=time.time())
        await self.save(job)
        task = asyncio.create_task(self._run(job, work), name=f"job-{kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job, work: Work) -> None:
        progress = JobProgress(
            self, job.model_copy(update={"status": "running", "started_at": time.time()})
        )
        await self.save(progress.job)
        try:
            result = await work(progress)
        except Exception as exc:
            log.exception("job failed", extra={"job_id": str(job.id), "kind": job.kind})
            final = progress.job.model_copy(
                update={"status": "failed", "error": repr(exc)[:2000], "finished_at": time.time()}
            )
        else:
            final = progress.job.model_copy(
                update={"status": "succeeded", "result": result, "finished_at": time.time()}
            )
        await self.save(final)

    async def wait_all(self) -> None:
        """Wait for the jobs this process runs (used at shutdown and in tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

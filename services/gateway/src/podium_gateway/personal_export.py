"""Building a user's personal-data export (SPEC §10.5, ADR 0058).

A background job of the gateway asks every service with a database for what
it holds about the user (`GET /internal/ops/personal-data/{user_id}`), writes
one JSON file per table into a zip archive, stores the archive in the blob
store and publishes `user.data_export_ready`, from which the notifier tells
the user in-app and by e-mail. What the job is about (owner, archive, expiry)
is kept in Redis next to the job's progress; download links are random
tokens that live `export_link_seconds`; archives are deleted once
`export_ttl_seconds` have passed (on the next look at them, and by the sweep
that runs whenever an export is requested).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import httpx
import redis.asyncio as redis
from fastapi import Depends
from podium_contracts.events import DataExportData, DataExportReady
from podium_runtime.blobs import BlobStore
from podium_runtime.jobs import Job, JobProgress, JobStore
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from pydantic import BaseModel, Field

from podium_gateway.clients import (
    HttpDep,
    RedisDep,
    RuntimeDep,
    SettingsDep,
    call,
    publish,
)
from podium_gateway.clients.services import service_urls
from podium_gateway.config import Settings
from podium_gateway.jobs import JobsDep
from podium_gateway.uploads import BlobDep

log = logging.getLogger(__name__)

#: Every service that keeps data about users, asked in this order.
EXPORT_SERVICES = ("identity", "competitions", "scoring", "ingest", "notifier", "rewards")
PREFIX = "podium:exports:"
#: Sorted set of ready exports by expiry time, swept for archives to delete.
EXPIRING = f"{PREFIX}expiring"
JOB_KIND = "personal_data.export"

ExportState = Literal["queued", "running", "ready", "failed", "expired"]


class ExportRecord(BaseModel):
    """What the gateway remembers about one export (Redis, never shown as is)."""

    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = None
    blob_key: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    expired: bool = False


class ExportDocument(BaseModel):
    """A personal-data export as its owner sees it."""

    id: uuid.UUID
    status: ExportState
    done: int = Field(description="Services that have answered")
    total: int | None = Field(description="Services asked")
    created_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = Field(default=None, description="When the archive is deleted")
    size_bytes: int | None = None
    sha256: str | None = None
    download_url: str | None = Field(
        default=None, description="A short-lived link to the zip (only for the owner, when ready)"
    )
    download_expires_at: datetime | None = None
    error: str | None = None


def _record_key(export_id: uuid.UUID) -> str:
    return f"{PREFIX}{export_id}"


def _user_key(user_id: uuid.UUID) -> str:
    return f"{PREFIX}user:{user_id}"


def _link_key(token: str) -> str:
    return f"{PREFIX}link:{token}"


def _text(value: Any) -> str:
    """Redis answers bytes (the gateway's client does not decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def build_archive(user_id: uuid.UUID, created_at: datetime, parts: dict[str, Any]) -> bytes:
    """Return the zip: `manifest.json` plus `<service>/<file>.json` for each service's rows."""
    buffer = io.BytesIO()
    manifest: dict[str, Any] = {
        "user_id": str(user_id),
        "created_at": created_at.isoformat(),
        "format": "One JSON array of rows per file; times are RFC 3339 UTC.",
        "services": {},
    }
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for service, files in parts.items():
            manifest["services"][service] = {name: len(rows) for name, rows in files.items()}
            for name, rows in files.items():
                archive.writestr(f"{service}/{name}.json", json.dumps(rows, indent=2))
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return buffer.getvalue()


class PersonalExports:
    """Requests, builds, shows and deletes personal-data exports."""

    def __init__(
        self,
        settings: Settings,
        redis_client: redis.Redis,
        http: httpx.AsyncClient,
        blobs: BlobStore,
        runtime: ServiceRuntime,
        jobs: JobStore,
    ) -> None:
        self.settings = settings
        self.redis = redis_client
        self.http = http
        self.blobs = blobs
        self.runtime = runtime
        self.jobs = jobs

    @property
    def _record_ttl(self) -> int:
        # The record outlives its archive by a day, so a late look says "expired", not 404.
        return self.settings.export_ttl_seconds + 86_400

    async def _save(self, record: ExportRecord) -> None:
        await self.redis.set(_record_key(record.id), record.model_dump_json(), ex=self._record_ttl)

    async def record(self, export_id: uuid.UUID) -> ExportRecord | None:
        """Return the export's record, or None when unknown or long gone."""
        raw = await self.redis.get(_record_key(export_id))
        return None if raw is None else ExportRecord.model_validate_json(raw)

    async def owned(self, export_id: uuid.UUID, user_id: uuid.UUID) -> ExportRecord | None:
        """Return the export if this user asked for it (None otherwise: 404, never 403)."""
        record = await self.record(export_id)
        if record is None or record.user_id != user_id:
            return None
        return await self._expire_if_due(record)

    async def current(self, user_id: uuid.UUID) -> ExportRecord | None:
        """Return the user's newest export that is being built or can be downloaded."""
        newest = await self.redis.zrevrange(_user_key(user_id), 0, 0)
        if not newest:
            return None
        record = await self.owned(uuid.UUID(_text(newest[0])), user_id)
        if record is None or record.expired:
            return None
        job = await self.jobs.get(record.id)
        if job is None or job.status == "failed":
            return None
        return record

    async def request(self, user_id: uuid.UUID) -> ExportRecord:
        """Start an export for the user, unless one is under way or ready (then return it)."""
        await self.sweep()
        # Two requests at once (a double click, two tabs) start one export, not two.
        async with self.redis.lock(f"{PREFIX}lock:{user_id}", timeout=10, blocking_timeout=10):
            existing = await self.current(user_id)
            if existing is not None:
                return existing
            now = datetime.now(UTC)
            record = ExportRecord(id=uuid.uuid4(), user_id=user_id, created_at=now)
            await self._save(record)
            await self.redis.zadd(_user_key(user_id), {str(record.id): now.timestamp()})
            await self.redis.expire(_user_key(user_id), self._record_ttl)

        async def work(progress: JobProgress) -> dict[str, Any]:
            return await self._build(record, progress)

        await self.jobs.launch(JOB_KIND, work, job_id=record.id)
        return record

    async def _build(self, record: ExportRecord, progress: JobProgress) -> dict[str, Any]:
        """Gather every service's part, store the archive, announce it."""
        urls = service_urls(self.settings) | {"rewards": self.settings.rewards_url}
        await progress.total(len(EXPORT_SERVICES))
        parts: dict[str, Any] = {}
        for service in EXPORT_SERVICES:
            url = f"{urls[service]}/internal/ops/personal-data/{record.user_id}"
            answer = await call(self.http, "GET", url, service=service)
            if answer.status_code != 200:
                raise RuntimeError(f"{service} answered {answer.status_code} for the export")
            parts[service] = answer.json()["files"]
            await progress.advance()
        archive = await asyncio.to_thread(build_archive, record.user_id, record.created_at, parts)
        ref = await self.blobs.put(f"exports/{record.user_id}/{record.id}.zip", archive)
        ready = datetime.now(UTC)
        expires = ready + timedelta(seconds=self.settings.export_ttl_seconds)
        done = record.model_copy(
            update={
                "ready_at": ready,
                "expires_at": expires,
                "blob_key": ref.key,
                "size_bytes": ref.size,
                "sha256": ref.sha256,
            }
        )
        await self._save(done)
        await self.redis.zadd(EXPIRING, {str(done.id): expires.timestamp()})
        event = new_event(
            DataExportReady,
            "gateway",
            DataExportData(user_id=record.user_id, export_id=record.id, expires_at=expires),
        )
        await publish(self.runtime, event, "export notification")
        return {"size_bytes": ref.size, "files": sum(len(f) for f in parts.values())}

    async def _expire_if_due(self, record: ExportRecord) -> ExportRecord:
        if record.expired or record.expires_at is None:
            return record
        if record.expires_at > datetime.now(UTC):
            return record
        return await self._delete_archive(record)

    async def _delete_archive(self, record: ExportRecord) -> ExportRecord:
        if record.blob_key is not None:
            await self.blobs.delete(record.blob_key)
        gone = record.model_copy(update={"expired": True, "blob_key": None})
        await self._save(gone)
        await self.redis.zrem(EXPIRING, str(record.id))
        return gone

    async def forget(self, user_id: uuid.UUID) -> int:
        """Delete every archive and record of the user (their account was erased)."""
        ids = await self.redis.zrange(_user_key(user_id), 0, -1)
        for raw in ids:
            record = await self.record(uuid.UUID(_text(raw)))
            if record is not None:
                await self._delete_archive(record)
                await self.redis.delete(_record_key(record.id))
        await self.redis.delete(_user_key(user_id))
        return len(ids)

    async def sweep(self) -> int:
        """Delete every archive whose time is up; return how many."""
        due = await self.redis.zrangebyscore(EXPIRING, 0, datetime.now(UTC).timestamp())
        for raw in due:
            record = await self.record(uuid.UUID(_text(raw)))
            if record is None:
                await self.redis.zrem(EXPIRING, _text(raw))
            else:
                await self._delete_archive(record)
        return len(due)

    async def document(self, record: ExportRecord, *, with_link: bool) -> ExportDocument:
        """Return what the owner sees, with a fresh download link when the archive is ready."""
        job: Job | None = await self.jobs.get(record.id)
        status: ExportState
        if record.expired:
            status = "expired"
        elif record.blob_key is not None:
            status = "ready"
        elif job is None or job.status == "failed":
            status = "failed"
        else:
            status = "running" if job.status in ("running", "succeeded") else "queued"
        document = ExportDocument(
            id=record.id,
            status=status,
            done=job.done if job else 0,
            total=job.total if job else None,
            created_at=record.created_at,
            ready_at=record.ready_at,
            expires_at=record.expires_at,
            size_bytes=record.size_bytes,
            sha256=record.sha256,
            error="The export could not be built; ask for a new one."
            if status == "failed"
            else None,
        )
        if status == "ready" and with_link:
            token = secrets.token_urlsafe(32)
            seconds = self.settings.export_link_seconds
            await self.redis.set(_link_key(token), str(record.id), ex=seconds)
            document.download_url = f"/v1/users/me/export/{record.id}/archive?token={token}"
            document.download_expires_at = datetime.now(UTC) + timedelta(seconds=seconds)
        return document

    async def link_valid(self, export_id: uuid.UUID, token: str) -> bool:
        """Whether this download token was issued for this export and still lives."""
        stored = await self.redis.get(_link_key(token))
        return stored is not None and _text(stored) == str(export_id)


async def get_exports(
    settings: SettingsDep,
    redis_client: RedisDep,
    http: HttpDep,
    blobs: BlobDep,
    runtime: RuntimeDep,
    jobs: JobsDep,
) -> PersonalExports:
    """Return the export use cases for this request (a route dependency, `ExportsDep`)."""
    return PersonalExports(settings, redis_client, http, blobs, runtime, jobs)


ExportsDep = Annotated[PersonalExports, Depends(get_exports)]

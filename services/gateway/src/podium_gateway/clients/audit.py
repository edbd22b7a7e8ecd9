"""Recording audit entries from the gateway (ADR 0037).

Actions the gateway performs itself (dead-letter replays and discards) or
commands it queues for a sponsor or an administrator (invalidations,
rescoring, competition changes) are recorded in identity's append-only audit
log once the owning service or the broker accepted them. Each entry carries
its own id, so a retried call cannot record it twice.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import Depends
from podium_runtime import audit
from podium_runtime.audit import AuditEntry
from podium_runtime.problems import Problem
from pydantic import BaseModel, Field

from podium_gateway.auth import CurrentUser
from podium_gateway.clients import HttpDep, SettingsDep, call

log = logging.getLogger(__name__)

SERVICE = "gateway"


class AuditEntryDocument(BaseModel):
    """One recorded admin or sponsor action."""

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str = Field(examples=["user.disabled"])
    target_type: str = Field(examples=["user"])
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    service: str


class AuditPageDocument(BaseModel):
    """One page of audit entries, newest first."""

    items: list[AuditEntryDocument]
    next_cursor: str | None


async def record(
    http: httpx.AsyncClient,
    identity_url: str,
    actor: CurrentUser | None,
    action: str,
    target_type: str,
    target_id: str | uuid.UUID,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one entry in identity's audit log; 503 when identity cannot take it."""
    entry = audit.entry(
        service=SERVICE,
        actor_id=actor.user_id if actor else None,
        actor_role=actor.role if actor else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )
    body = entry.model_dump(mode="json")
    for attempt in range(3):
        try:
            answer = await call(
                http, "POST", f"{identity_url}/internal/audit", service="identity", json=body
            )
        except Problem:
            if attempt == 2:
                raise
            continue
        if answer.status_code == 200:
            return entry
        log.error("audit entry refused", extra={"status": answer.status_code, "action": action})
    raise Problem(503, "SERVICE_UNAVAILABLE", "The action could not be recorded; try again.")


async def page(
    http: httpx.AsyncClient, identity_url: str, params: dict[str, Any]
) -> AuditPageDocument:
    """Return one page of entries matching `params` (for views the gateway scoped itself)."""
    answer = await call(
        http, "GET", f"{identity_url}/internal/audit", service="identity", params=params
    )
    if 400 <= answer.status_code < 500:
        # The caller's own mistake (a bad cursor or filter): pass identity's problem on.
        problem = answer.json()
        raise Problem(
            answer.status_code,
            str(problem.get("code", "VALIDATION_ERROR")),
            str(problem.get("detail") or problem.get("title") or "invalid request"),
        )
    if answer.status_code != 200:
        raise Problem(503, "SERVICE_UNAVAILABLE", "The audit log is not available.")
    return AuditPageDocument.model_validate_json(answer.content)


async def latest_by_target(
    http: httpx.AsyncClient, identity_url: str, target_type: str, target_ids: list[str]
) -> dict[str, AuditEntry]:
    """Return the newest audit entry about each of these targets."""
    answer = await call(
        http,
        "POST",
        f"{identity_url}/internal/audit/latest",
        service="identity",
        json={"target_type": target_type, "target_ids": target_ids},
    )
    if answer.status_code != 200:
        raise Problem(503, "SERVICE_UNAVAILABLE", "The audit log is not available.")
    return {k: AuditEntry.model_validate(v) for k, v in answer.json()["items"].items()}


class Auditor:
    """Records the current caller's actions (a route dependency, `AuditorDep`)."""

    def __init__(self, http: httpx.AsyncClient, identity_url: str) -> None:
        self.http = http
        self.identity_url = identity_url

    async def __call__(
        self,
        actor: CurrentUser | None,
        action: str,
        target_type: str,
        target_id: str | uuid.UUID,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record one entry (see `record`)."""
        return await record(
            self.http,
            self.identity_url,
            actor,
            action,
            target_type,
            target_id,
            before=before,
            after=after,
        )

    async def changed(
        self,
        actor: CurrentUser,
        action: str,
        target_type: str,
        target_id: str | uuid.UUID,
        before: dict[str, Any],
        after: dict[str, Any],
        fields: list[str],
    ) -> AuditEntry | None:
        """Record the `fields` that differ between two versions; nothing if none does."""
        old, new = audit.changes(
            {f: before.get(f) for f in fields}, {f: after.get(f) for f in fields}
        )
        if not new and not old:
            return None
        return await self(actor, action, target_type, target_id, before=old, after=new)


async def get_auditor(http: HttpDep, settings: SettingsDep) -> Auditor:
    """Return the recorder of audit entries for this request."""
    return Auditor(http, settings.identity_url)


AuditorDep = Annotated[Auditor, Depends(get_auditor)]

"""Audit entries: who did what to which target, with a before/after summary (ADR 0037).

One shape for every admin and sponsor action. Identity stores the entries
(append-only, `identity.audit_log`); identity writes its own in the
transaction of the change, the gateway sends the others after the owning
service accepted the action. The entry id makes a re-sent entry a no-op, so
each action is recorded once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podium_runtime.context import current_correlation_id

#: Keys never copied into a summary, whatever the caller passes.
_SECRET_KEYS = frozenset({"password", "password_hash", "secret", "secret_hash", "token"})


class AuditEntry(BaseModel):
    """One recorded action (what `GET /v1/admin/audit` lists)."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    actor_id: uuid.UUID | None = Field(description="Who acted (None: the system)")
    actor_role: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=100, examples=["user.disabled", "dead_letter.replayed"])
    target_type: str = Field(max_length=50, examples=["user", "competition", "dead_letter"])
    target_id: str = Field(max_length=300)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = Field(default=None, max_length=200)
    service: str = Field(max_length=50, description="The service that performed the action")
    at: datetime | None = Field(default=None, description="Set when stored")


def summary(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return `values` without secret-looking keys, ready for an entry's before/after."""
    if values is None:
        return None
    return {k: v for k, v in values.items() if k not in _SECRET_KEYS}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the before and after values of the keys that differ (secrets left out)."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return (
        summary({k: before.get(k) for k in keys}) or {},
        summary({k: after.get(k) for k in keys}) or {},
    )


def entry(
    *,
    service: str,
    actor_id: uuid.UUID | None,
    actor_role: str | None,
    action: str,
    target_type: str,
    target_id: str | uuid.UUID,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Build an entry for the current request (its request id is the correlation id)."""
    return AuditEntry(
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=summary(before),
        after=summary(after),
        request_id=current_correlation_id() or None,
        service=service,
    )

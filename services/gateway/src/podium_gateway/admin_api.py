"""Administration routes of the gateway (SPEC §10.5): users and the audit log.

Users and audit entries live in identity: these routes relay to it with the
caller's bearer token, and identity checks the administrator role against the
account's current state (the gateway already refuses tokens without it).
Operations the gateway performs itself (dead letters) are in `operations_api`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from podium_runtime.problems import problem_responses as problems
from pydantic import BaseModel, ConfigDict

from podium_gateway.account_schemas import UserDocument
from podium_gateway.auth import AdminDep, UserDep
from podium_gateway.clients.audit import AuditPageDocument
from podium_gateway.clients.identity import IdentityDep
from podium_gateway.exports import tells_cells
from podium_gateway.personal_export import ExportsDep

router = APIRouter(tags=["admin"])


class AdminUserDocument(UserDocument):
    """A user as administrators see it."""

    disabled: bool
    disabled_at: datetime | None
    updated_at: datetime


class AdminUserPageDocument(BaseModel):
    """One page of users, newest first."""

    items: list[AdminUserDocument]
    next_cursor: str | None


class AdminUserPatch(BaseModel):
    """Change a user's role, or disable (refresh tokens revoked, logins refused) or enable."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"disabled": True}]})

    role: Literal["user", "admin"] | None = None
    disabled: bool | None = None


def _params(**values: Any) -> dict[str, Any]:
    return {k: str(v) if not isinstance(v, str) else v for k, v in values.items() if v is not None}


@router.get(
    "/v1/admin/users",
    summary="Search users",
    response_model=AdminUserPageDocument,
    responses=problems(400, 401, 403, 503),
)
async def list_users(
    admin: AdminDep,
    identity: IdentityDep,
    q: str | None = Query(default=None, max_length=320, description="E-mail or display name"),
    role: Literal["user", "admin"] | None = None,
    disabled: bool | None = None,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=50, ge=1, le=200),
) -> Response:
    """Users newest first, filtered by a substring of e-mail or display name, role, state."""
    params = _params(q=q, role=role, disabled=disabled, cursor=cursor, limit=limit)
    if disabled is not None:
        params["disabled"] = "true" if disabled else "false"
    return await identity.relay("GET", "/v1/admin/users", params=params)


@router.get(
    "/v1/admin/users/{user_id}",
    summary="Show a user",
    response_model=AdminUserDocument,
    responses=problems(401, 403, 404, 503),
)
async def show_user(user_id: uuid.UUID, admin: AdminDep, identity: IdentityDep) -> Response:
    """One user's account as administrators see it."""
    return await identity.relay("GET", f"/v1/admin/users/{user_id}")


@router.patch(
    "/v1/admin/users/{user_id}",
    summary="Change a user's role, disable or enable the account",
    response_model=AdminUserDocument,
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def change_user(
    user_id: uuid.UUID, body: AdminUserPatch, admin: AdminDep, identity: IdentityDep
) -> Response:
    """Audited. A disabled user's refresh tokens are revoked and logins refused (403
    `ACCOUNT_DISABLED`); access tokens already issued die at expiry. 409
    `SELF_CHANGE_REFUSED` when an administrator would disable or demote themselves."""
    return await identity.relay("PATCH", f"/v1/admin/users/{user_id}", body)


@router.post(
    "/v1/admin/users/{user_id}/resend-verification",
    summary="Send a new verification e-mail",
    status_code=202,
    response_class=Response,
    responses=problems(401, 403, 404, 409, 503),
)
async def resend_verification(
    user_id: uuid.UUID, admin: AdminDep, identity: IdentityDep
) -> Response:
    """Audited; 409 `ALREADY_VERIFIED` when the address is verified."""
    return await identity.relay("POST", f"/v1/admin/users/{user_id}/resend-verification")


@router.delete(
    "/v1/admin/users/{user_id}",
    summary="Erase a user's account and personal data everywhere",
    status_code=202,
    response_class=Response,
    responses=problems(401, 403, 404, 409, 503),
)
async def erase_user(
    user_id: uuid.UUID, admin: AdminDep, identity: IdentityDep, exports: ExportsDep
) -> Response:
    """Identity deletes the account and announces `user.deleted`; every service then erases
    or anonymises what it holds (boards keep an anonymous row), and their data exports are
    deleted. Audited."""
    answer = await identity.relay("DELETE", f"/v1/admin/users/{user_id}")
    if answer.status_code == 202:
        await exports.forget(user_id)
    return answer


@router.delete(
    "/v1/users/me",
    tags=["accounts"],
    summary="Erase my account and personal data everywhere",
    status_code=202,
    response_class=Response,
    responses=problems(401, 503),
)
async def erase_me(user: UserDep, identity: IdentityDep, exports: ExportsDep) -> Response:
    """202: the account is gone at once (with its data exports); every service erases its
    copies shortly after."""
    answer = await identity.relay("DELETE", "/v1/users/me")
    if answer.status_code == 202:
        await exports.forget(user.user_id)
    return answer


def _audit_params(
    actor: uuid.UUID | None,
    action: str | None,
    target_type: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
    competition: uuid.UUID | None = None,
) -> dict[str, Any]:
    return _params(
        actor=actor,
        action=action,
        target_type=target_type,
        target=target,
        competition=competition,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )


@router.get(
    "/v1/admin/audit",
    summary="Query the audit log",
    response_model=AuditPageDocument,
    responses=problems(400, 401, 403, 422, 503),
)
async def list_audit(
    admin: AdminDep,
    identity: IdentityDep,
    actor: uuid.UUID | None = None,
    action: str | None = Query(default=None, max_length=100, examples=["user.*"]),
    target_type: str | None = Query(default=None, max_length=50),
    target: str | None = Query(default=None, max_length=300),
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=500),
    competition: uuid.UUID | None = Query(
        default=None, description="Everything about one competition and what is inside it"
    ),
) -> Response:
    """Every admin and sponsor action, newest first; `action` may end in `.*` (a prefix)."""
    params = _audit_params(actor, action, target_type, target, since, until, competition)
    params.update(_params(cursor=cursor, limit=limit))
    return await identity.relay("GET", "/v1/admin/audit", params=params)


@router.get(
    "/v1/admin/audit/export",
    summary="Export the audit log",
    responses={
        **problems(401, 403, 422, 503),
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
    },
)
@tells_cells
async def export_audit(
    admin: AdminDep,
    identity: IdentityDep,
    format: Literal["jsonl", "csv"] = "jsonl",
    actor: uuid.UUID | None = None,
    action: str | None = Query(default=None, max_length=100),
    target_type: str | None = Query(default=None, max_length=50),
    target: str | None = Query(default=None, max_length=300),
    since: datetime | None = None,
    until: datetime | None = None,
    competition: uuid.UUID | None = None,
) -> Response:
    """Every matching entry as JSON lines or CSV, newest first."""
    params = _audit_params(actor, action, target_type, target, since, until, competition)
    params["format"] = format
    answer = await identity.call("GET", "/v1/admin/audit/export", params=params)
    headers = {
        k: v
        for k, v in answer.headers.items()
        if k.lower() in ("content-type", "content-disposition", "cache-control")
    }
    return Response(content=answer.content, status_code=answer.status_code, headers=headers)

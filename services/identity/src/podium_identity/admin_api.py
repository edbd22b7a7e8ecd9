"""Identity's administration routes (thin): users and the audit log (SPEC §10.5, ADR 0037).

The gateway relays `/v1/admin/*` here with the caller's bearer token; identity
checks that the caller is an administrator now, not merely when the token was
issued. `/internal/audit*` is for the gateway only (SPEC §6): it records the
entries of actions other services performed and looks up what happened to a
target. `/internal/users/{id}/access` answers a user's current role and
disabled state, which the gateway's admin decisions rest on (ADR 0052).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from podium_runtime.audit import AuditEntry
from podium_runtime.deps import SessionDep
from podium_runtime.exports import Format, csv_rows, download, encode
from sqlalchemy import Row

from podium_identity.admin import Administration
from podium_identity.deps import AccountsDep, UserIdDep
from podium_identity.schemas import (
    AdminUserOut,
    AdminUserPage,
    AdminUserPatch,
    AuditLatest,
    AuditLookup,
    AuditPage,
    AuditRecorded,
    UserAccess,
    audit_entry_of,
)
from podium_identity.service import AccountError

router = APIRouter(tags=["admin"])
internal_router = APIRouter(tags=["internal"])


async def get_administration(request: Request) -> Administration:
    """Return the app's administration use cases."""
    return request.app.state.administration  # type: ignore[no-any-return]


AdministrationDep = Annotated[Administration, Depends(get_administration)]


async def current_admin(user_id: UserIdDep, accounts: AccountsDep, session: SessionDep) -> Row[Any]:
    """Return the caller's row if the account is an administrator now; 403 otherwise."""
    return await accounts.require_admin(session, user_id)


AdminDep = Annotated[Row[Any], Depends(current_admin)]


@router.get("/v1/admin/users", response_model=AdminUserPage)
async def list_users(
    admin: AdminDep,
    administration: AdministrationDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=320)] = None,
    role: Literal["user", "admin"] | None = None,
    disabled: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AdminUserPage:
    """Search users by e-mail or display name."""
    rows, next_cursor = await administration.users_page(
        session, query=q, role=role, disabled=disabled, cursor=cursor, limit=limit
    )
    return AdminUserPage(items=[AdminUserOut.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/admin/users/{user_id}", response_model=AdminUserOut)
async def show_user(
    user_id: uuid.UUID, admin: AdminDep, administration: AdministrationDep, session: SessionDep
) -> AdminUserOut:
    """One user."""
    return AdminUserOut.of(await administration.user(session, user_id))


@router.patch("/v1/admin/users/{user_id}", response_model=AdminUserOut)
async def change_user(
    user_id: uuid.UUID,
    body: AdminUserPatch,
    admin: AdminDep,
    administration: AdministrationDep,
    session: SessionDep,
) -> AdminUserOut:
    """Change a user's role or disable/enable the account."""
    row = await administration.change_user(
        session, admin, user_id, role=body.role, disabled=body.disabled
    )
    return AdminUserOut.of(row)


@router.post(
    "/v1/admin/users/{user_id}/resend-verification", status_code=202, response_class=Response
)
async def resend_verification(
    user_id: uuid.UUID, admin: AdminDep, administration: AdministrationDep, session: SessionDep
) -> Response:
    """Send the user a new verification e-mail."""
    await administration.resend_verification(session, admin, user_id)
    return Response(status_code=202)


@router.delete("/v1/admin/users/{user_id}", status_code=202, response_class=Response)
async def erase_user(
    user_id: uuid.UUID, admin: AdminDep, administration: AdministrationDep, session: SessionDep
) -> Response:
    """Erase an account everywhere (audited); 409 for the caller's own account."""
    if user_id == admin.id:
        raise AccountError("SELF_CHANGE_REFUSED", "Administrators cannot erase themselves here.")
    await administration.erase_user(session, admin, user_id)
    return Response(status_code=202)


@router.delete("/v1/users/me", status_code=202, response_class=Response, tags=["accounts"])
async def erase_me(
    user_id: UserIdDep, administration: AdministrationDep, session: SessionDep
) -> Response:
    """Erase the caller's account everywhere."""
    await administration.erase_user(session, None, user_id)
    return Response(status_code=202)


AuditFilters = dict[str, Any]


async def audit_filters(
    actor: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target_type: Annotated[str | None, Query(max_length=50)] = None,
    target: Annotated[str | None, Query(max_length=300)] = None,
    competition: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilters:
    """The filters of an audit query (`action` may end in `.*`; `competition`: everything
    about one competition)."""
    return {
        "actor_id": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target,
        "competition_id": competition,
        "since": since,
        "until": until,
    }


AuditFiltersDep = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("/v1/admin/audit", response_model=AuditPage)
async def list_audit(
    admin: AdminDep,
    administration: AdministrationDep,
    session: SessionDep,
    filters: AuditFiltersDep,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Audit entries, newest first, filtered."""
    return await query_audit(administration, session, filters, cursor, limit)


EXPORT_FIELDS = list(AuditEntry.model_fields)


@router.get("/v1/admin/audit/export")
async def export_audit(
    admin: AdminDep,
    administration: AdministrationDep,
    request: Request,
    filters: AuditFiltersDep,
    format: Format = "jsonl",
) -> StreamingResponse:
    """Every matching entry, newest first, streamed as JSON lines or CSV."""
    database = request.app.state.runtime.db

    async def lines() -> AsyncIterator[bytes]:
        cursor: str | None = None
        if format == "csv":
            yield csv_rows([EXPORT_FIELDS])
        while True:
            # One short transaction per page: an export never holds a snapshot for long.
            async with database.session() as session:
                rows, cursor = await administration.audit_page(session, cursor, 500, **filters)
            if rows:
                documents = [audit_entry_of(row).model_dump(mode="json") for row in rows]
                yield encode(documents, format, EXPORT_FIELDS)
            if cursor is None:
                return

    return download(lines(), format, "audit")


@internal_router.get("/internal/audit", response_model=AuditPage)
async def query_audit(
    administration: AdministrationDep,
    session: SessionDep,
    filters: AuditFiltersDep,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Audit entries for the gateway's scoped views (a sponsor's competition, checked there)."""
    rows, next_cursor = await administration.audit_page(session, cursor, limit, **filters)
    return AuditPage(items=[audit_entry_of(r) for r in rows], next_cursor=next_cursor)


@internal_router.post("/internal/audit", response_model=AuditRecorded)
async def record_audit(
    entry: AuditEntry, administration: AdministrationDep, session: SessionDep
) -> AuditRecorded:
    """Record an action another service performed (idempotent by entry id)."""
    return AuditRecorded(recorded=await administration.record(session, entry))


@internal_router.post("/internal/audit/latest", response_model=AuditLatest)
async def latest_audit(
    body: AuditLookup, administration: AdministrationDep, session: SessionDep
) -> AuditLatest:
    """The newest entry about each of these targets."""
    rows = await administration.latest_by_target(session, body.target_type, body.target_ids)
    return AuditLatest(items={k: audit_entry_of(r) for k, r in rows.items()})


@internal_router.get("/internal/users/{user_id}/access", response_model=UserAccess)
async def user_access(
    user_id: uuid.UUID, administration: AdministrationDep, session: SessionDep
) -> UserAccess:
    """The user's current role and disabled state: what admin decisions rest on (ADR 0052)."""
    user = await administration.user(session, user_id)
    return UserAccess(user_id=user.id, role=user.role, disabled=user.disabled_at is not None)

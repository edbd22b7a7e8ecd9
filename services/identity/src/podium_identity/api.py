"""Identity HTTP API (thin): the account routes the gateway relays, JWKS, internal checks.

Paths mirror the gateway's (SPEC §5.1) so a relay is a straight pass-through;
`/internal/*` is for the gateway only (SPEC §6) and is kept off the public
network by the deployment.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from podium_runtime.deps import SessionDep
from podium_runtime.problems import Problem
from podium_runtime.profile_card import refill

from podium_identity import profile_card, repository
from podium_identity.deps import AccountsDep, UserIdDep
from podium_identity.schemas import (
    ForgotPasswordRequest,
    LoginRequest,
    LrsClientCreate,
    LrsClientCreated,
    LrsClientList,
    LrsClientOut,
    LrsCredentials,
    ProfilePatch,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    TokenPairOut,
    TokenRequest,
    UserOut,
    VerifiedLrsClient,
)
from podium_identity.service import TokenPair

router = APIRouter()


def _tokens(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/v1/auth/register", status_code=201, response_model=UserOut, tags=["accounts"])
async def register(body: RegisterRequest, accounts: AccountsDep, session: SessionDep) -> UserOut:
    """Create an account."""
    user = await accounts.register(
        session, body.email, body.password, body.display_name, body.timezone
    )
    return UserOut.of(user)


@router.post("/v1/auth/login", response_model=TokenPairOut, tags=["accounts"])
async def login(body: LoginRequest, accounts: AccountsDep, session: SessionDep) -> TokenPairOut:
    """Exchange e-mail and password for tokens."""
    return _tokens(await accounts.login(session, body.email, body.password))


@router.post("/v1/auth/refresh", response_model=TokenPairOut, tags=["accounts"])
async def refresh(body: RefreshRequest, accounts: AccountsDep, session: SessionDep) -> TokenPairOut:
    """Rotate a refresh token (a reused one revokes its family, which commits: SPEC §5.1)."""
    return _tokens(await accounts.refresh(session, body.refresh_token))


@router.post("/v1/auth/logout", status_code=204, response_class=Response, tags=["accounts"])
async def logout(
    body: RefreshRequest, user_id: UserIdDep, accounts: AccountsDep, session: SessionDep
) -> Response:
    """Revoke the caller's refresh token family."""
    await accounts.logout(session, user_id, body.refresh_token)
    return Response(status_code=204)


@router.post("/v1/auth/verify-email", response_model=UserOut, tags=["accounts"])
async def verify_email(body: TokenRequest, accounts: AccountsDep, session: SessionDep) -> UserOut:
    """Consume an e-mail verification token."""
    return UserOut.of(await accounts.verify_email(session, body.token))


@router.post(
    "/v1/auth/forgot-password", status_code=202, response_class=Response, tags=["accounts"]
)
async def forgot_password(
    body: ForgotPasswordRequest, accounts: AccountsDep, session: SessionDep
) -> Response:
    """Send a reset e-mail if the account exists (the answer is the same either way)."""
    await accounts.forgot_password(session, body.email)
    return Response(status_code=202)


@router.post("/v1/auth/reset-password", status_code=204, response_class=Response, tags=["accounts"])
async def reset_password(
    body: ResetPasswordRequest, accounts: AccountsDep, session: SessionDep
) -> Response:
    """Set a new password with a reset token."""
    await accounts.reset_password(session, body.token, body.password)
    return Response(status_code=204)


@router.get("/v1/users/me", response_model=UserOut, tags=["accounts"])
async def get_me(user_id: UserIdDep, accounts: AccountsDep, session: SessionDep) -> UserOut:
    """The caller's profile; the account part of the caller's profile card is written from it."""
    user = await refill(
        session, user_id, lambda: accounts.profile(session, user_id), profile_card.account_part
    )
    return UserOut.of(user)


@router.patch("/v1/users/me", response_model=UserOut, tags=["accounts"])
async def patch_me(
    body: ProfilePatch, user_id: UserIdDep, accounts: AccountsDep, session: SessionDep
) -> UserOut:
    """Change the caller's profile."""
    user = await accounts.update_profile(session, user_id, body.model_dump(exclude_unset=True))
    return UserOut.of(user)


@router.get("/.well-known/jwks.json", tags=["accounts"])
async def jwks(accounts: AccountsDep) -> JSONResponse:
    """The public signing keys."""
    return JSONResponse(accounts.keyring.jwks(), headers={"Cache-Control": "public, max-age=300"})


async def admin_id(user_id: UserIdDep, accounts: AccountsDep, session: SessionDep) -> uuid.UUID:
    """Return the caller's id if the account is an admin now; 403 otherwise."""
    await accounts.require_admin(session, user_id)
    return user_id


AdminIdDep = Annotated[uuid.UUID, Depends(admin_id)]


@router.post(
    "/v1/admin/lrs-clients", status_code=201, response_model=LrsClientCreated, tags=["admin"]
)
async def create_lrs_client(
    body: LrsClientCreate,
    admin: AdminIdDep,
    accounts: AccountsDep,
    session: SessionDep,
    request: Request,
) -> LrsClientCreated:
    """Create xAPI credentials (audited)."""
    row, secret = await accounts.create_lrs_client(session, body.name, list(body.scopes), admin)
    actor = await accounts.require_admin(session, admin)
    await request.app.state.administration.lrs_client_changed(
        session, actor, "lrs_client.created", row
    )
    return LrsClientCreated(**LrsClientOut.of(row).model_dump(), secret=secret)


@router.get("/v1/admin/lrs-clients", response_model=LrsClientList, tags=["admin"])
async def list_lrs_clients(
    admin: AdminIdDep, session: SessionDep, include_revoked: bool = False
) -> LrsClientList:
    """List xAPI credentials."""
    rows = await repository.list_lrs_clients(session, include_revoked)
    return LrsClientList(items=[LrsClientOut.of(r) for r in rows])


@router.delete(
    "/v1/admin/lrs-clients/{client_id}", status_code=204, response_class=Response, tags=["admin"]
)
async def revoke_lrs_client(
    client_id: uuid.UUID,
    admin: AdminIdDep,
    accounts: AccountsDep,
    session: SessionDep,
    request: Request,
) -> Response:
    """Revoke xAPI credentials (audited)."""
    row = await repository.revoke_lrs_client(session, client_id)
    if row is None:
        raise Problem(404, "NOT_FOUND", "No such LRS client.")
    actor = await accounts.require_admin(session, admin)
    await request.app.state.administration.lrs_client_changed(
        session, actor, "lrs_client.revoked", row
    )
    return Response(status_code=204)


@router.post("/internal/lrs-clients/verify", response_model=VerifiedLrsClient, tags=["internal"])
async def verify_lrs_client(
    body: LrsCredentials, accounts: AccountsDep, session: SessionDep
) -> VerifiedLrsClient:
    """Check Basic credentials for the gateway (SPEC §6)."""
    row = await accounts.verify_lrs_client(session, body.key, body.secret)
    return VerifiedLrsClient(client_id=row.id, name=row.name, scopes=list(row.scopes))

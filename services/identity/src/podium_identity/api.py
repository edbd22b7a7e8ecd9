"""Identity HTTP API (thin): the account routes the gateway relays, JWKS, internal checks.

Paths mirror the gateway's (SPEC §5.1) so a relay is a straight pass-through;
`/internal/*` is for the gateway only (SPEC §6) and is kept off the public
network by the deployment.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from podium_runtime.problems import Problem
from podium_runtime.runtime import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from podium_identity import repository
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
from podium_identity.service import AccountError, Accounts, RefreshTokenReused, TokenPair

router = APIRouter()
_bearer = HTTPBearer(auto_error=False)

STATUS = {
    "VALIDATION_ERROR": 422,
    "INVALID_EMAIL": 422,
    "WEAK_PASSWORD": 422,
    "INVALID_TIMEZONE": 422,
    "EMAIL_TAKEN": 409,
    "INVALID_CREDENTIALS": 401,
    "INVALID_REFRESH_TOKEN": 401,
    "REFRESH_TOKEN_REUSED": 401,
    "INVALID_TOKEN": 401,
    "EMAIL_NOT_VERIFIED": 403,
    "FORBIDDEN": 403,
    "ACCOUNT_LOCKED": 429,
    "INVALID_VERIFICATION_TOKEN": 400,
    "INVALID_RESET_TOKEN": 400,
    "NOT_FOUND": 404,
}


def problem(error: AccountError) -> Problem:
    """Map a refused operation to its RFC 7807 problem."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
    if error.code in ("INVALID_CREDENTIALS", "INVALID_TOKEN", "INVALID_REFRESH_TOKEN"):
        headers["WWW-Authenticate"] = "Bearer"
    return Problem(
        STATUS[error.code], error.code, error.detail, errors=error.errors, headers=headers
    )


def get_accounts(request: Request) -> Accounts:
    """Return the app's use cases."""
    return request.app.state.accounts  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Open the request's unit of work; refused operations become problems after rollback."""
    runtime: ServiceRuntime = request.app.state.runtime
    try:
        async with runtime.db.session() as session:
            yield session
    except AccountError as error:
        raise problem(error) from error


AccountsDep = Annotated[Accounts, Depends(get_accounts)]
# "function" scope: the transaction commits before the response leaves (STYLE 3).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def current_user_id(
    accounts: AccountsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    """Verify the bearer access token with identity's own keys; return its subject."""
    if credentials is None:
        raise Problem(401, "UNAUTHENTICATED", "A bearer token is required.")
    try:
        claims = accounts.keyring.verify(credentials.credentials)
        return uuid.UUID(str(claims["sub"]))
    except jwt.ExpiredSignatureError as exc:
        raise Problem(401, "TOKEN_EXPIRED", "The access token has expired.") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise Problem(401, "INVALID_TOKEN", "The access token is invalid.") from exc


UserIdDep = Annotated[uuid.UUID, Depends(current_user_id)]


def _tokens(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/v1/auth/register", status_code=201, response_model=UserOut, tags=["accounts"])
async def register(body: RegisterRequest, accounts: AccountsDep, session: SessionDep) -> UserOut:
    """Create an account."""
    try:
        user = await accounts.register(
            session, body.email, body.password, body.display_name, body.timezone
        )
    except AccountError as error:
        raise problem(error) from error
    return UserOut.of(user)


@router.post("/v1/auth/login", response_model=TokenPairOut, tags=["accounts"])
async def login(body: LoginRequest, accounts: AccountsDep, session: SessionDep) -> TokenPairOut:
    """Exchange e-mail and password for tokens."""
    try:
        return _tokens(await accounts.login(session, body.email, body.password))
    except AccountError as error:
        raise problem(error) from error


@router.post("/v1/auth/refresh", response_model=TokenPairOut, tags=["accounts"])
async def refresh(body: RefreshRequest, accounts: AccountsDep, request: Request) -> TokenPairOut:
    """Rotate a refresh token."""
    runtime: ServiceRuntime = request.app.state.runtime
    reused: RefreshTokenReused | None = None
    try:
        async with runtime.db.session() as session:
            try:
                pair = await accounts.refresh(session, body.refresh_token)
            except RefreshTokenReused as error:
                # The family revocation must commit even though the caller is refused.
                reused = error
    except AccountError as error:
        raise problem(error) from error
    if reused is not None:
        raise problem(reused)
    return _tokens(pair)


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
    try:
        return UserOut.of(await accounts.verify_email(session, body.token))
    except AccountError as error:
        raise problem(error) from error


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
    body: ResetPasswordRequest, accounts: AccountsDep, request: Request
) -> Response:
    """Set a new password with a reset token."""
    runtime: ServiceRuntime = request.app.state.runtime
    try:
        async with runtime.db.session() as session:
            await accounts.reset_password(session, body.token, body.password)
    except AccountError as error:
        raise problem(error) from error
    return Response(status_code=204)


@router.get("/v1/users/me", response_model=UserOut, tags=["accounts"])
async def get_me(user_id: UserIdDep, accounts: AccountsDep, session: SessionDep) -> UserOut:
    """The caller's profile."""
    try:
        return UserOut.of(await accounts.profile(session, user_id))
    except AccountError as error:
        raise problem(error) from error


@router.patch("/v1/users/me", response_model=UserOut, tags=["accounts"])
async def patch_me(
    body: ProfilePatch, user_id: UserIdDep, accounts: AccountsDep, request: Request
) -> UserOut:
    """Change the caller's profile."""
    runtime: ServiceRuntime = request.app.state.runtime
    try:
        async with runtime.db.session() as session:
            user = await accounts.update_profile(
                session, user_id, body.model_dump(exclude_unset=True)
            )
    except AccountError as error:
        raise problem(error) from error
    return UserOut.of(user)


@router.get("/.well-known/jwks.json", tags=["accounts"])
async def jwks(accounts: AccountsDep) -> JSONResponse:
    """The public signing keys."""
    return JSONResponse(accounts.keyring.jwks(), headers={"Cache-Control": "public, max-age=300"})


async def admin_id(user_id: UserIdDep, accounts: AccountsDep, request: Request) -> uuid.UUID:
    """Return the caller's id if the account is an admin now; 403 otherwise."""
    runtime: ServiceRuntime = request.app.state.runtime
    try:
        async with runtime.db.session() as session:
            await accounts.require_admin(session, user_id)
    except AccountError as error:
        raise problem(error) from error
    return user_id


AdminIdDep = Annotated[uuid.UUID, Depends(admin_id)]


@router.post(
    "/v1/admin/lrs-clients", status_code=201, response_model=LrsClientCreated, tags=["admin"]
)
async def create_lrs_client(
    body: LrsClientCreate, admin: AdminIdDep, accounts: AccountsDep, request: Request
) -> LrsClientCreated:
    """Create xAPI credentials."""
    runtime: ServiceRuntime = request.app.state.runtime
    try:
        async with runtime.db.session() as session:
            row, secret = await accounts.create_lrs_client(
                session, body.name, list(body.scopes), admin
            )
    except AccountError as error:
        raise problem(error) from error
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
    client_id: uuid.UUID, admin: AdminIdDep, session: SessionDep
) -> Response:
    """Revoke xAPI credentials."""
    if not await repository.revoke_lrs_client(session, client_id):
        raise Problem(404, "NOT_FOUND", "No such LRS client.")
    return Response(status_code=204)


@router.post("/internal/lrs-clients/verify", response_model=VerifiedLrsClient, tags=["internal"])
async def verify_lrs_client(
    body: LrsCredentials, accounts: AccountsDep, session: SessionDep
) -> VerifiedLrsClient:
    """Check Basic credentials for the gateway (SPEC §6)."""
    try:
        row = await accounts.verify_lrs_client(session, body.key, body.secret)
    except AccountError as error:
        raise problem(error) from error
    return VerifiedLrsClient(client_id=row.id, name=row.name, scopes=list(row.scopes))

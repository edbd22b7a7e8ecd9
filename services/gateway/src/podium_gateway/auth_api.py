"""Sign-up, sign-in and token routes, relayed synchronously to identity (SPEC §5.1, §6).

The gateway checks what it can at the edge (per-IP login limits, the bearer
token) and passes identity's answer through unchanged, problems included, so
status codes and error codes are identity's own.
"""

from __future__ import annotations

import hashlib
import html
import json

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from podium_runtime.problems import problem_responses as problems

from podium_gateway.account_schemas import (
    ForgotPasswordRequest,
    Jwks,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    TokenPair,
    TokenRequest,
    UserDocument,
)
from podium_gateway.auth import UserDep, revoke_access_token
from podium_gateway.clients import SettingsDep, client_ip, relay
from podium_gateway.clients.identity import IdentityDep
from podium_gateway.limits import enforce
from podium_gateway.session_cookie import (
    clear_refresh_cookie,
    refresh_token_of,
    set_refresh_cookie,
)

router = APIRouter()


async def _account_of(request: Request) -> str:
    """Return a digest of the e-mail a login-like body names ("" when it names none)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return ""
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        return ""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


async def login_ip_limit(request: Request, settings: SettingsDep) -> None:
    """Count a login-like attempt against the caller's IP and account (SPEC §8).

    Keyed by address *and* account: everyone behind one ingress or NAT address
    shares the address, and an attacker there must not be able to use up the
    attempts of all of them. Guessing one account's password is stopped by
    identity's account lock.
    """
    ip = client_ip(request, settings)
    account = await _account_of(request)
    await enforce(
        request.app.state.runtime.redis,
        f"{settings.redis_key_prefix}rl:login-ip:{ip}:{account}",
        settings.rate_limit_login_ip,
        settings.rate_limit_login_ip_window_seconds,
        "Too many attempts from this address; try again later.",
    )


LoginIpLimit = Depends(login_ip_limit)


@router.post(
    "/v1/auth/register",
    tags=["accounts"],
    status_code=201,
    summary="Create an account",
    response_model=UserDocument,
    responses=problems(409, 422, 429, 503),
    dependencies=[LoginIpLimit],
)
async def register(body: RegisterRequest, identity: IdentityDep) -> Response:
    """Register with e-mail, a strong password, a display name and an optional IANA time zone."""
    return await identity.relay("POST", "/v1/auth/register", body)


@router.post(
    "/v1/auth/login",
    tags=["accounts"],
    summary="Log in and receive tokens",
    response_model=TokenPair,
    responses=problems(401, 403, 422, 429, 503),
    dependencies=[LoginIpLimit],
)
async def login(body: LoginRequest, identity: IdentityDep, settings: SettingsDep) -> Response:
    """Exchange e-mail and password for an access token and a refresh token.

    The refresh token is also set as the `podium_refresh` HttpOnly cookie (browser sessions).
    """
    return _with_session_cookie(await identity.call("POST", "/v1/auth/login", body), settings)


@router.post(
    "/v1/auth/refresh",
    tags=["accounts"],
    summary="Rotate a refresh token",
    response_model=TokenPair,
    responses=problems(401, 422, 429, 503),
    dependencies=[LoginIpLimit],
)
async def refresh(
    body: RefreshRequest, request: Request, identity: IdentityDep, settings: SettingsDep
) -> Response:
    """Trade a refresh token for a new pair; the old one dies, and reusing it revokes the family.

    The token comes from the body or, for browsers, from the `podium_refresh` cookie
    (then the request must be `application/json`); the new one is set as the cookie.
    """
    token = refresh_token_of(request, body.refresh_token)
    answer = await identity.call("POST", "/v1/auth/refresh", {"refresh_token": token})
    return _with_session_cookie(answer, settings)


def _with_session_cookie(answer: httpx.Response, settings: SettingsDep) -> Response:
    """Relay a token answer; a successful one also sets the refresh-token cookie."""
    response = relay(answer)
    if answer.status_code == 200:
        set_refresh_cookie(response, answer.json()["refresh_token"], settings)
    return response


@router.post(
    "/v1/auth/logout",
    tags=["accounts"],
    status_code=204,
    summary="Log out (revoke a refresh token)",
    response_class=Response,
    responses=problems(401, 422, 503),
)
async def logout(
    body: RefreshRequest,
    user: UserDep,
    identity: IdentityDep,
    request: Request,
    settings: SettingsDep,
) -> Response:
    """Revoke the caller's refresh token and every token rotated from the same login.

    The access token used for the call is revoked too (a deny-list entry until it
    would have expired), so a copy of it stops working at once.
    """
    token = refresh_token_of(request, body.refresh_token)
    answer = await identity.relay("POST", "/v1/auth/logout", {"refresh_token": token})
    if answer.status_code < 300:
        await revoke_access_token(request.app.state.runtime.redis, user)
        clear_refresh_cookie(answer, settings)
    return answer


@router.post(
    "/v1/auth/verify-email",
    tags=["accounts"],
    summary="Confirm an e-mail address",
    response_model=UserDocument,
    responses=problems(400, 422, 429, 503),
    dependencies=[LoginIpLimit],
)
async def verify_email(body: TokenRequest, identity: IdentityDep) -> Response:
    """Use the single-use token from the verification e-mail."""
    return await identity.relay("POST", "/v1/auth/verify-email", body)


_CONFIRMED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Podium</title></head>
<body><h1>{title}</h1><p>{detail}</p></body></html>"""


@router.get(
    "/verify-email",
    tags=["accounts"],
    summary="Confirm an e-mail address from the link in the verification e-mail",
    response_class=HTMLResponse,
    dependencies=[LoginIpLimit],
)
async def verify_email_link(
    identity: IdentityDep, token: str = Query(min_length=1, max_length=512)
) -> HTMLResponse:
    """The target of the e-mailed link: spends the token and shows the outcome as a page."""
    answer = await identity.call("POST", "/v1/auth/verify-email", {"token": token})
    if answer.status_code == 200:
        page = _CONFIRMED_PAGE.format(
            title="E-mail address confirmed", detail="You can close this page and sign in."
        )
        return HTMLResponse(page)
    detail = html.escape(answer.json().get("detail", "The link is not valid."))
    page = _CONFIRMED_PAGE.format(title="This link cannot be used", detail=detail)
    return HTMLResponse(page, status_code=answer.status_code)


@router.post(
    "/v1/auth/forgot-password",
    tags=["accounts"],
    status_code=202,
    summary="Ask for a password reset e-mail",
    response_class=Response,
    responses=problems(422, 429, 503),
    dependencies=[LoginIpLimit],
)
async def forgot_password(body: ForgotPasswordRequest, identity: IdentityDep) -> Response:
    """Always 202, whether or not the e-mail has an account (no account discovery)."""
    return await identity.relay("POST", "/v1/auth/forgot-password", body)


@router.post(
    "/v1/auth/reset-password",
    tags=["accounts"],
    status_code=204,
    summary="Set a new password with a reset token",
    response_class=Response,
    responses=problems(400, 422, 429, 503),
    dependencies=[LoginIpLimit],
)
async def reset_password(body: ResetPasswordRequest, identity: IdentityDep) -> Response:
    """Use the single-use reset token; every session of the account is logged out."""
    return await identity.relay("POST", "/v1/auth/reset-password", body)


@router.get(
    "/.well-known/jwks.json",
    tags=["accounts"],
    summary="Public keys of the access tokens",
    response_model=Jwks,
    responses=problems(503),
)
async def jwks(request: Request) -> JSONResponse:
    """Return the RS256 public keys (by `kid`) so any service verifies tokens offline."""
    document = await request.app.state.jwks.current()
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

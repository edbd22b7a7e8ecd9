"""Account routes: the gateway relays them synchronously to identity (SPEC §5.1, §6).

The gateway checks what it can at the edge (bearer token, admin role, per-IP
login limits) and passes identity's answer through unchanged, problems
included, so status codes and error codes are identity's own.
"""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from podium_runtime.problems import Problem
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import AdminDep, CurrentUser, UserDep
from podium_gateway.clients import HttpDep, SettingsDep, call, client_ip, relay
from podium_gateway.limits import enforce
from podium_gateway.lrs_auth import authenticate_lrs_client
from podium_gateway.session_cookie import (
    clear_refresh_cookie,
    refresh_token_of,
    set_refresh_cookie,
)

router = APIRouter()
xapi_about_router = APIRouter(tags=["xapi"])

# xAPI Communication 4.2 scopes.
LrsScope = Literal[
    "all",
    "all/read",
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "define",
    "profile",
]


# --- documents (for OpenAPI; identity validates the rules) ---------------------


class ProblemDocument(BaseModel):
    """An RFC 7807 problem with a stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(examples=["VALIDATION_ERROR"])
    errors: list[dict[str, Any]] | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI `responses` entries documenting problem answers."""
    described = {
        400: "Malformed or expired token",
        401: "Not authenticated or invalid credentials",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Request body too large",
        422: "Validation failed; `errors` names each failed rule",
        429: "Rate limit exceeded or account locked; see `Retry-After`",
        503: "Identity service unavailable",
    }
    return {
        s: {
            "model": ProblemDocument,
            "description": described.get(s, "Problem"),
            "content": {"application/problem+json": {}},
        }
        for s in statuses
    }


class RegisterRequest(BaseModel):
    """A new account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.org",
                    "password": "correct horse battery 9",
                    "display_name": "Ada",
                    "timezone": "Europe/Paris",
                }
            ]
        }
    )

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    display_name: str = Field(max_length=200)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone")


class UserDocument(BaseModel):
    """A user's profile."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4b0c3a56-5b0b-4f0e-9a57-0c1d2e3f4a5b",
                    "email": "ada@example.org",
                    "display_name": "Ada",
                    "timezone": "Europe/Paris",
                    "role": "user",
                    "email_verified": False,
                    "notification_preferences": {},
                    "created_at": "2026-01-05T10:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    email: str
    display_name: str
    timezone: str
    role: Literal["user", "admin"]
    email_verified: bool
    notification_preferences: dict[str, dict[str, bool]] | None = Field(
        default=None, description="Per type and channel; kept by the notifier (null if unreachable)"
    )
    created_at: datetime


class LoginRequest(BaseModel):
    """E-mail and password."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.org", "password": "correct horse battery 9"}]
        }
    )

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenPair(BaseModel):
    """An access token (RS256 JWT, 15 minutes) and an opaque refresh token (7 days)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9...",
                    "refresh_token": "rt_3q2-7wFZ...",
                    "token_type": "Bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class RefreshRequest(BaseModel):
    """A refresh token to rotate or revoke; browsers omit it and send the session cookie."""

    refresh_token: str | None = Field(
        default=None, max_length=512, description="Absent: the `podium_refresh` cookie is used"
    )


class TokenRequest(BaseModel):
    """A single-use token received by e-mail."""

    token: str = Field(max_length=512)


class ForgotPasswordRequest(BaseModel):
    """The e-mail of the account whose password was forgotten."""

    email: str = Field(max_length=320)


class ResetPasswordRequest(BaseModel):
    """A reset token and the new password."""

    token: str = Field(max_length=512)
    password: str = Field(max_length=1024)


class ProfilePatch(BaseModel):
    """Profile fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "display_name": "Ada L.",
                    "timezone": "America/New_York",
                    "notification_preferences": {"submission.scored": {"email": False}},
                }
            ]
        },
    )

    display_name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    notification_preferences: dict[str, dict[str, bool]] | None = None


class LrsClientCreate(BaseModel):
    """New xAPI credentials."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Moodle", "scopes": ["statements/write"]}]}
    )

    name: str = Field(max_length=200)
    scopes: list[LrsScope] = Field(min_length=1)


class LrsClientDocument(BaseModel):
    """An LRS client (its secret is never shown again after creation)."""

    id: uuid.UUID
    name: str
    key: str
    scopes: list[LrsScope]
    created_at: datetime
    revoked_at: datetime | None = None


class LrsClientCreated(LrsClientDocument):
    """A new LRS client with its secret, shown this one time."""

    secret: str


class LrsClientList(BaseModel):
    """LRS clients, newest first."""

    items: list[LrsClientDocument]


class Jwks(BaseModel):
    """JSON Web Key Set of the access-token signing keys."""

    keys: list[dict[str, Any]]


# --- edge checks ---------------------------------------------------------------


async def login_ip_limit(request: Request, settings: SettingsDep) -> None:
    """Count a login-like attempt against the caller's IP (SPEC §8: login per IP)."""
    ip = client_ip(request, settings)
    await enforce(
        request.app.state.runtime.redis,
        f"{settings.redis_key_prefix}rl:login-ip:{ip}",
        settings.rate_limit_login_ip,
        settings.rate_limit_login_ip_window_seconds,
        "Too many attempts from this address; try again later.",
    )


LoginIpLimit = Depends(login_ip_limit)


class IdentityProxy:
    """Identity's public API on the caller's behalf (SPEC §6): the caller's credentials go along."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, authorization: str | None) -> None:
        self.http = http
        self.base_url = base_url
        self.authorization = authorization

    async def call(
        self,
        method: str,
        path: str,
        body: BaseModel | dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request to identity and return its answer."""
        headers = {"Authorization": self.authorization} if self.authorization else {}
        json = _body(body) if isinstance(body, BaseModel) else body
        url = f"{self.base_url}{path}"
        return await call(
            self.http, method, url, service="identity", json=json, headers=headers, params=params
        )

    async def relay(
        self,
        method: str,
        path: str,
        body: BaseModel | dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        """Send one request to identity and pass its answer, problems included, to the caller."""
        return relay(await self.call(method, path, body, params))


def identity_proxy(request: Request, http: HttpDep, settings: SettingsDep) -> IdentityProxy:
    """Return the proxy to identity carrying this request's `Authorization` header."""
    return IdentityProxy(http, settings.identity_url, request.headers.get("authorization"))


IdentityDep = Annotated[IdentityProxy, Depends(identity_proxy)]


def _body(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=True)


# --- routes --------------------------------------------------------------------


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
    request: Request,
    user: UserDep,
    identity: IdentityDep,
    settings: SettingsDep,
) -> Response:
    """Revoke the caller's refresh token (body or cookie) and every token rotated from it."""
    token = refresh_token_of(request, body.refresh_token)
    answer = relay(await identity.call("POST", "/v1/auth/logout", {"refresh_token": token}))
    if answer.status_code < 300:
        clear_refresh_cookie(answer, settings)
    return answer


def _with_session_cookie(answer: httpx.Response, settings: SettingsDep) -> Response:
    """Relay a token answer; a successful one also sets the refresh-token cookie."""
    response = relay(answer)
    if answer.status_code == 200:
        set_refresh_cookie(response, answer.json()["refresh_token"], settings)
    return response


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
    "/v1/users/me",
    tags=["accounts"],
    summary="My profile",
    response_model=UserDocument,
    responses=problems(401, 429, 503),
)
async def get_me(
    user: UserDep, identity: IdentityDep, http: HttpDep, settings: SettingsDep
) -> Response:
    """Return the caller's profile with the notification preferences the notifier keeps."""
    profile = await identity.call("GET", "/v1/users/me")
    return await _with_preferences(profile, user, http, settings)


@router.patch(
    "/v1/users/me",
    tags=["accounts"],
    summary="Change my profile",
    response_model=UserDocument,
    responses=problems(401, 422, 429, 503),
)
async def patch_me(
    body: ProfilePatch, user: UserDep, identity: IdentityDep, http: HttpDep, settings: SettingsDep
) -> Response:
    """Change display name, time zone (IANA, validated) or notification preferences.

    The profile lives in identity, the preferences in the notifier, which applies
    them (SPEC §7.4); the gateway sends each part to its owner.
    """
    changes = _body(body)
    preferences = changes.pop("notification_preferences", None)
    method = "PATCH" if changes else "GET"
    profile = await identity.call(method, "/v1/users/me", changes or None)
    return await _with_preferences(profile, user, http, settings, preferences)


async def _with_preferences(
    profile: httpx.Response,
    user: CurrentUser,
    http: HttpDep,
    settings: SettingsDep,
    changes: dict[str, Any] | None = None,
) -> Response:
    """Add the notifier's preference matrix to an identity profile answer.

    A change the notifier refuses is passed on as its problem; when the notifier
    is merely unreachable on a read, the profile is still served with
    `notification_preferences: null` rather than failing the whole request.
    """
    if profile.status_code != 200:
        return relay(profile)
    url = f"{settings.notifier_url}/internal/users/{user.user_id}/preferences"
    document = profile.json()
    if changes:
        answer = await call(http, "PUT", url, service="notifier", json={"preferences": changes})
        if answer.status_code != 200:
            return relay(answer)
        document["notification_preferences"] = answer.json()["preferences"]
    else:
        try:
            answer = await call(http, "GET", url, service="notifier")
        except Problem:
            answer = None
        if answer is not None and answer.status_code == 200:
            document["notification_preferences"] = answer.json()["preferences"]
        else:
            document["notification_preferences"] = None
    return JSONResponse(document, headers={"Cache-Control": "private, no-store"})


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


@router.post(
    "/v1/admin/lrs-clients",
    tags=["admin"],
    status_code=201,
    summary="Create xAPI credentials",
    response_model=LrsClientCreated,
    responses=problems(401, 403, 422, 503),
)
async def create_lrs_client(
    body: LrsClientCreate, admin: AdminDep, identity: IdentityDep
) -> Response:
    """Create an LRS client; its key and secret are returned once, the secret is stored hashed."""
    return await identity.relay("POST", "/v1/admin/lrs-clients", body)


@router.get(
    "/v1/admin/lrs-clients",
    tags=["admin"],
    summary="List xAPI credentials",
    response_model=LrsClientList,
    responses=problems(401, 403, 503),
)
async def list_lrs_clients(
    admin: AdminDep, identity: IdentityDep, include_revoked: bool = False
) -> Response:
    """List LRS clients (secrets are never shown again)."""
    params = {"include_revoked": str(include_revoked).lower()}
    return await identity.relay("GET", "/v1/admin/lrs-clients", params=params)


@router.delete(
    "/v1/admin/lrs-clients/{client_id}",
    tags=["admin"],
    status_code=204,
    summary="Revoke xAPI credentials",
    response_class=Response,
    responses=problems(401, 403, 404, 503),
)
async def revoke_lrs_client(
    client_id: uuid.UUID, admin: AdminDep, identity: IdentityDep
) -> Response:
    """Revoke an LRS client; learning tools using it are refused within seconds."""
    return await identity.relay("DELETE", f"/v1/admin/lrs-clients/{client_id}")


class About(BaseModel):
    """xAPI `about` resource (Communication 2.8)."""

    version: list[str] = Field(examples=[["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]])
    extensions: dict[str, Any] = Field(default_factory=dict)


#: Every xAPI version the LRS speaks (X-Experience-API-Version negotiation, Comm. 3.3).
XAPI_VERSIONS = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]


@xapi_about_router.api_route(
    "/xapi/about",
    methods=["GET", "HEAD"],
    summary="xAPI versions this LRS speaks",
    response_model=About,
    responses=problems(401, 403, 429),
)
async def xapi_about(request: Request) -> JSONResponse:
    """Return the supported xAPI versions and extensions.

    Clients ask About before they know which version to speak, so it needs neither
    credentials nor the version header (xAPI Communication 2.8); credentials that
    are sent are still verified, so a tool can check them here.
    """
    if "authorization" in request.headers:
        await authenticate_lrs_client(request)
    requested = request.headers.get("X-Experience-API-Version", "")
    return JSONResponse(
        {
            "version": XAPI_VERSIONS,
            "extensions": {},
        },
        headers={"X-Experience-API-Version": "2.0.0" if requested == "2.0.0" else "1.0.3"},
    )

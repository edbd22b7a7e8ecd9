"""The browser session: the refresh token travels in an HttpOnly cookie (SPEC §8).

Login and refresh answers also set `podium_refresh`, an `HttpOnly; Secure;
SameSite=Strict` cookie scoped to `/v1/auth`, so the web app keeps its access
token in memory only and never lets script read the long-lived secret. API
clients keep sending the refresh token in the JSON body, which wins when both
are present. A refresh by cookie must come as `application/json` (a cross-site
form cannot send that without a CORS preflight) on top of SameSite=Strict, so
the cookie cannot be ridden by another site.
"""

from __future__ import annotations

from fastapi import Request, Response
from podium_runtime.problems import Problem

from podium_gateway.config import Settings

COOKIE_NAME = "podium_refresh"
COOKIE_PATH = "/v1/auth"
#: Lifetime of the cookie; identity's refresh tokens live 7 days (SPEC §5.1).
COOKIE_MAX_AGE_SECONDS = 7 * 24 * 3600


def set_refresh_cookie(response: Response, refresh_token: str, settings: Settings) -> None:
    """Put the refresh token into the session cookie of `response`."""
    response.set_cookie(
        COOKIE_NAME,
        refresh_token,
        max_age=COOKIE_MAX_AGE_SECONDS,
        path=COOKIE_PATH,
        secure=settings.refresh_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, settings: Settings) -> None:
    """Expire the session cookie."""
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        secure=settings.refresh_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def refresh_token_of(request: Request, from_body: str | None) -> str:
    """Return the refresh token from the body, else from the cookie (JSON requests only)."""
    if from_body:
        return from_body
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        raise Problem(401, "INVALID_TOKEN", "No refresh token in the body or the session cookie.")
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise Problem(
            415, "UNSUPPORTED_MEDIA_TYPE", "A refresh by cookie must be sent as application/json."
        )
    return cookie

"""The hottest public reads answered in front of FastAPI's routing (issue #14, ADR 0070).

`GET /v1/competitions/{id}/leaderboard` (the first page, `limit=` only) and
`GET /v1/competitions/{id}` are what every visitor, projector, embed and
participant polls. Their routes already answer from one Redis script
and bytes rendered once per content (ADR 0061); what remained per request was
FastAPI's work around them: matching the path against every router, solving
seven dependencies, validating five query parameters.

`EdgeReads` is a pure-ASGI layer, inside the edge's security headers
(`security.EdgeMiddleware`) and the request's id, metrics and span
(`podium_runtime.http.RequestMiddleware`), that recognises these two requests
by a precompiled pattern and makes the route's own read with the route's own
functions: the caller's checks (`auth.anonymous_gate`, or for a bearer token
`auth.verify_access_token` and `auth.user_gate`), the script that makes them
and reads card and page (`read_model.read`), the visibility decision
(`Snapshot.visible`, `Snapshot.details_body`) and the rendering
(`leaderboard_api.page_body`). When the card answers, it sends the rendered
bytes with the headers the route's `Response` has; the layers outside add the
rest, as they do for the route.

Everything else goes to FastAPI, which stays the one definition of these
routes: other query parameters, a path FastAPI would parse differently, a
token that does not verify or claims `admin` (checked with identity, ADR
0052), a read-model miss, a competition the card does not answer for this
caller (private, unknown, the owner's or a participant's details), an
activity board, a refused request. When the script already made the checks,
their verdict travels in the scope (`auth.SETTLED_AT_EDGE`) and the route's
dependency settles it (401 `TOKEN_REVOKED`, 429, as before) instead of
counting the request a second time.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from podium_runtime.problems import Problem
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from podium_gateway import profile_read, read_model
from podium_gateway.auth import (
    SETTLED_AT_EDGE,
    CurrentUser,
    anonymous_gate,
    user_gate,
    verify_access_token,
)
from podium_gateway.client_ip import scope_client_ip
from podium_gateway.leaderboard_api import JSON, page_body, prediction_page

log = logging.getLogger(__name__)

#: A competition's details or its board, with the id as FastAPI prints a UUID.
_PATH = re.compile(
    r"^/v1/competitions/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"(/leaderboard)?$"
)
#: The board's first page: no query, or `limit` alone within the route's bounds (1-200).
_FIRST_PAGE = re.compile(rb"^(?:limit=([1-9][0-9]?|1[0-9][0-9]|200))?$")
#: The route's default page size.
DEFAULT_LIMIT = 50
#: The routes' paths, as `RequestMiddleware` labels metrics and spans with them.
BOARD_ROUTE = "/v1/competitions/{competition_id}/leaderboard"
DETAILS_ROUTE = "/v1/competitions/{competition_id}"
_CONTENT_TYPE = (b"content-type", JSON.encode())
#: The routes' own headers before the body's: none, or a signed-in caller's details'.
_HEADERS: list[tuple[bytes, bytes]] = []
_PRIVATE_HEADERS = [(b"cache-control", b"private, no-store")]


class RouteLabel:
    """What `RequestMiddleware` reads of `scope["route"]`: the route's path template."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


_BOARD_LABEL = RouteLabel(BOARD_ROUTE)
_DETAILS_LABEL = RouteLabel(DETAILS_ROUTE)
_PROFILE_LABEL = RouteLabel(profile_read.PATH)
_PROFILE_HEADERS = [profile_read.CACHE_CONTROL]

EDGE_READS = Counter(
    "podium_gateway_edge_reads_total",
    "Anonymous reads answered before routing (the rest of the route's requests go to FastAPI)",
    ["route"],
)
_BOARDS_ANSWERED = EDGE_READS.labels("board")
_DETAILS_ANSWERED = EDGE_READS.labels("details")


class EdgeReads:
    """Answer first-page board reads, public details and the caller's profile before routing.

    The profile (`GET /v1/users/me`) is read from the caller's profile card by
    `profile_read.edge_answer` (ADR 0074), with the same rules as the other reads.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request when the read model answers it exactly, else pass it on."""
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            if scope["path"] == profile_read.PATH:
                body = await profile_read.edge_answer(scope)
                if body is not None:
                    scope["route"] = _PROFILE_LABEL
                    await _send(send, body, _PROFILE_HEADERS)
                    return
                await self.app(scope, receive, send)
                return
            matched = _PATH.match(scope["path"])
            if matched is not None:
                answer = await self._answer(scope, matched)
                if answer is not None:
                    await _send(send, *answer)
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, matched: re.Match[str]
    ) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        """Return the route's body and its own headers when the read model gives them, else None."""
        board = matched[2] is not None
        limit = DEFAULT_LIMIT
        if board:
            query = _FIRST_PAGE.match(scope["query_string"])
            if query is None:
                return None
            if query[1]:
                limit = int(query[1])
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break  # the first, as the route's `HTTPBearer` reads it
        app = scope["app"]
        settings = app.state.settings
        try:
            if authorization is None:
                user = None
                gate = anonymous_gate(settings, scope_client_ip(scope, settings.trusted_proxies))
            else:
                user = await _caller(authorization, app.state.jwks, settings.jwt_leeway_seconds)
                if user is None:
                    return None
                gate = user_gate(settings, user)
            competition_id = uuid.UUID(matched[1])
            page = prediction_page(competition_id, "public", 0, limit) if board else None
            found, verdict = await read_model.read(
                app.state.scripts, competition_id, user, page, gate
            )
        except Exception:  # the route tries again and answers as it always did
            log.debug("edge read failed; left to the route", exc_info=True)
            return None
        # Counted now: whatever answers this request must not count it again.
        scope[SETTLED_AT_EDGE] = (gate, verdict)
        try:
            gate.settle(verdict)
        except Problem:
            return None  # the route answers the 429
        if board:
            body = _board(found, user, limit)
            headers = _HEADERS
        else:
            body = found.details_body(user)
            headers = _HEADERS if user is None else _PRIVATE_HEADERS
        if body is None:
            return None
        scope["route"] = _BOARD_LABEL if board else _DETAILS_LABEL
        (_BOARDS_ANSWERED if board else _DETAILS_ANSWERED).inc()
        return body, headers


async def _send(send: Send, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    """Send a 200 JSON answer with the route's own headers, as its `Response` sends them."""
    length = (b"content-length", str(len(body)).encode())
    headers = [*extra, length, _CONTENT_TYPE]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _caller(authorization: str, jwks: Any, leeway: float) -> CurrentUser | None:
    """Return the caller a `Bearer` token verifies to, None for anything the route must judge.

    The header is parsed as the route's `HTTPBearer` parses it; a bad token, a token
    that fails verification and an `admin` claim (checked with identity, ADR 0052) are
    the route's to answer.
    """
    scheme, token = get_authorization_scheme_param(authorization)
    if not token or scheme.lower() != "bearer":
        return None
    try:
        user = await verify_access_token(token, jwks, leeway)
    except Problem:
        return None
    return None if user.is_admin else user


def _board(found: read_model.Snapshot, user: CurrentUser | None, limit: int) -> bytes | None:
    """Return the first page of the public board when the snapshot gives it exactly, else None."""
    card = found.card
    # An activity board is read by period from other keys (`leaderboard_api._board_keys`).
    if card is None or not found.visible(user) or card.kind != "prediction":
        return None
    page: Any = found.page
    return page_body(page, "public", "all", None, 0, limit)

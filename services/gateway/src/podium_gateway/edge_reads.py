"""The hottest public reads answered in front of FastAPI's routing (issue #14, ADR 0070).

An anonymous `GET /v1/competitions/{id}/leaderboard` (the first page, `limit=`
only) and an anonymous `GET /v1/competitions/{id}` are what every visitor,
projector and embed polls. Their routes already answer from one Redis script
and bytes rendered once per content (ADR 0061); what remained per request was
FastAPI's work around them: matching the path against every router, solving
seven dependencies, validating five query parameters.

`EdgeReads` is a pure-ASGI layer, inside the edge's security headers
(`security.EdgeMiddleware`) and the request's id, metrics and span
(`podium_runtime.http.RequestMiddleware`), that recognises these two requests
by a precompiled pattern and makes the route's own read with the route's own
functions: the anonymous caller's rate limit (`auth.anonymous_gate`), the
script that counts it and reads card and page (`read_model.read`), the
visibility decision (`Snapshot.visible`, `Snapshot.details_body`) and the
rendering (`leaderboard_api.page_body`). When the card answers, it sends the
rendered bytes with the headers the route's `Response` has; the layers
outside add the rest, as they do for the route.

Everything else goes to FastAPI, which stays the one definition of these
routes: a token, other query parameters, a path FastAPI would parse
differently, a read-model miss, a private or unknown competition, an activity
board, a refused request. When the script already counted the request, the
verdict travels in the scope (`auth.SETTLED_AT_EDGE`) and the route's
dependency settles it (429 as before) instead of counting it a second time.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from podium_runtime.problems import Problem
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from podium_gateway import read_model
from podium_gateway.auth import SETTLED_AT_EDGE, anonymous_gate
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


class RouteLabel:
    """What `RequestMiddleware` reads of `scope["route"]`: the route's path template."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


_BOARD_LABEL = RouteLabel(BOARD_ROUTE)
_DETAILS_LABEL = RouteLabel(DETAILS_ROUTE)

EDGE_READS = Counter(
    "podium_gateway_edge_reads_total",
    "Anonymous reads answered before routing (the rest of the route's requests go to FastAPI)",
    ["route"],
)
_BOARDS_ANSWERED = EDGE_READS.labels("board")
_DETAILS_ANSWERED = EDGE_READS.labels("details")


class EdgeReads:
    """Answer anonymous first-page board reads and public details before FastAPI routes them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request when the read model answers it exactly, else pass it on."""
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            matched = _PATH.match(scope["path"])
            if matched is not None:
                body = await self._answer(scope, matched)
                if body is not None:
                    headers = [(b"content-length", str(len(body)).encode()), _CONTENT_TYPE]
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, matched: re.Match[str]) -> bytes | None:
        """Return the route's answer when the read model gives it for this request, else None."""
        board = matched[2] is not None
        limit = DEFAULT_LIMIT
        if board:
            query = _FIRST_PAGE.match(scope["query_string"])
            if query is None:
                return None
            if query[1]:
                limit = int(query[1])
        for name, _ in scope["headers"]:
            if name == b"authorization":
                return None
        app = scope["app"]
        settings = app.state.settings
        gate = anonymous_gate(settings, scope_client_ip(scope, settings.trusted_proxies))
        competition_id = uuid.UUID(matched[1])
        page = prediction_page(competition_id, "public", 0, limit) if board else None
        try:
            found, verdict = await read_model.read(
                app.state.runtime.redis, competition_id, None, page, gate
            )
        except Exception:  # the route reads again and answers the failure as it always did
            log.debug("edge read failed; left to the route", exc_info=True)
            return None
        # Counted now: whatever answers this request must not count it again.
        scope[SETTLED_AT_EDGE] = (gate, verdict)
        try:
            gate.settle(verdict)
        except Problem:
            return None  # the route answers the 429
        body = _body(found, board, limit)
        if body is not None:
            scope["route"] = _BOARD_LABEL if board else _DETAILS_LABEL
            (_BOARDS_ANSWERED if board else _DETAILS_ANSWERED).inc()
        return body


def _body(found: read_model.Snapshot, board: bool, limit: int) -> bytes | None:
    """Return the anonymous answer the snapshot gives exactly, else None (the route decides)."""
    if not board:
        return found.details_body(None)
    card = found.card
    # An activity board is read by period from other keys (`leaderboard_api._board_keys`).
    if card is None or not found.visible(None) or card.kind != "prediction":
        return None
    page: Any = found.page
    return page_body(page, "public", "all", None, 0, limit)

"""Refuse text the platform cannot store before any route sees it (SPEC §8, issue 13 item 8).

NUL characters and lone UTF-16 surrogates cannot be stored by Postgres (nor
encoded as UTF-8), and JSON nested deeper than `MAX_JSON_DEPTH` must not reach a
recursive walk. Such input in a display name, a competition title or a search
`q=` used to travel to a service and come back as a 500. This middleware checks
the path, every query parameter and every JSON body of the public API and
answers `400 VALIDATION_ERROR` naming the field. The xAPI routes run the same
checks themselves (`podium_gateway.xapi.api`), with xAPI's own error shapes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException
from podium_runtime.hygiene import json_problem, orjson_problem, unsafe_text_reason
from podium_runtime.problems import PROBLEM_JSON, Problem
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Routes that check their own input with their protocol's error shapes.
OWN_CHECKS = ("/xapi/", "/xapi")
#: Methods whose JSON body is read by a route.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media: str = value.decode("latin-1").split(";")[0].strip().lower()
            return media == "application/json" or media.endswith("+json")
    return False


def query_problem(scope: Scope) -> tuple[str, str] | None:
    """Return (field, reason) for unstorable text in the path or query string, else None."""
    path = scope.get("path", "")
    # NUL is the one refused character in ASCII text: most paths need no pattern search.
    if not path.isascii() or "\x00" in path:
        reason = unsafe_text_reason(path)
        if reason:
            return "path", reason
    raw = scope.get("query_string", b"")
    if b"%" not in raw and b"\x00" not in raw:
        return None  # only an escape or a raw NUL byte can decode to what is refused
    # Decoded as Starlette decodes it (UTF-8, undecodable bytes replaced).
    query = raw.decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        reason = unsafe_text_reason(name) or unsafe_text_reason(value)
        if reason:
            return name[:50], reason
    return None


def body_problem(body: bytes) -> tuple[str, str] | None:
    """Return (field, reason) for an unsafe JSON body; None when safe or not JSON at all.

    A body that does not parse is left to the route, which answers 422 as before.
    """
    try:
        problem = orjson_problem(body, orjson.loads(body))
    except orjson.JSONDecodeError:
        # orjson refuses lone surrogates; the standard parser keeps them so they can be named.
        try:
            document: Any = json.loads(body)
        except ValueError:
            return None
        problem = json_problem(document)
    if problem is None:
        return None
    field, _, reason = problem.partition(" ")
    return field.removeprefix("$.").removeprefix("$") or "body", reason


async def send_problem(send: Send, field: str, reason: str) -> None:
    """Answer 400 `VALIDATION_ERROR` naming the field and what is wrong with it."""
    problem = Problem(
        400,
        "VALIDATION_ERROR",
        f"{field}: {reason}.",
        extra={"errors": [{"field": field, "message": reason}]},
    )
    await _send(send, problem)


async def _send(send: Send, problem: Problem) -> None:
    body = json.dumps(problem.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class InputHygieneMiddleware:
    """Answer 400 `VALIDATION_ERROR` to NUL, lone surrogates and over-deep JSON at the edge."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one HTTP request, then pass it on with its body intact."""
        if scope["type"] != "http" or scope.get("path", "").startswith(OWN_CHECKS):
            await self.app(scope, receive, send)
            return
        found = query_problem(scope)
        if found:
            await send_problem(send, *found)
            return
        if scope["method"] not in BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        # JSON bodies are small (the edge limits them); read it whole, then replay it.
        chunks: list[bytes] = []
        while True:
            try:
                message = await receive()
            except HTTPException as exc:
                if exc.status_code != 413:
                    raise
                # The edge's body limit, raised while reading: answered like a route would.
                await _send(send, Problem(exc.status_code, "PAYLOAD_TOO_LARGE", str(exc.detail)))
                return
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        found = body_problem(body)
        if found:
            await send_problem(send, *found)
            return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Return a `receive` that yields `messages` first, then the client's own."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay

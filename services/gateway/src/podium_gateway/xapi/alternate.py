"""The xAPI 1.0.3 alternate request syntax (Communication 1.3) as an ASGI middleware.

A client that cannot send some methods or headers (cross-origin browsers of old)
POSTs to `<resource>?method=<METHOD>` with an `application/x-www-form-urlencoded`
body: the header fields among `Authorization`, `X-Experience-API-Version`,
`Content-Type`, `Content-Length`, `If-Match` and `If-None-Match` become headers,
`content` becomes the body, every other field a query parameter. The request is
rewritten before routing, so each resource sees an ordinary request. xAPI 2.0
removed the syntax: such requests are 400 when they ask for 2.0.0.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from podium_runtime.problems import Problem, problem_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
_METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}
_FORM = "application/x-www-form-urlencoded"


class AlternateRequestSyntax:
    """Rewrite `POST /xapi/...?method=X` form requests into the request they describe."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass other requests through untouched."""
        if scope["type"] != "http" or not scope["path"].startswith("/xapi/"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not any(name == "method" for name, _ in query):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refused = _refusal(scope, query, headers)
        if refused:
            await _problem(send, refused, headers.get("x-experience-api-version", ""))
            return
        body = await _read(receive)
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params: list[tuple[str, str]] = []
        content = b""
        for name, value in fields:
            if name.lower() in _HEADER_FIELDS:
                headers[name.lower()] = value
            elif name == "content":
                content = value.encode()
            else:
                params.append((name, value))
        if headers.get("x-experience-api-version", "").startswith("2."):
            await _problem(send, "xAPI 2.0 has no alternate request syntax.", "2.0.0")
            return
        if content and headers.get("content-type", _FORM).split(";")[0].strip() == _FORM:
            headers["content-type"] = "application/json"
        headers["content-length"] = str(len(content))
        method = dict(query)["method"].upper()
        rewritten = {
            **scope,
            "method": method,
            "query_string": urlencode(params).encode(),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        }
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        await self.app(rewritten, replay, send)


def _refusal(scope: Scope, query: list[tuple[str, str]], headers: dict[str, str]) -> str | None:
    if scope["method"] != "POST":
        return "The alternate request syntax is only issued as a POST (xAPI Communication 1.3)."
    if len(query) != 1:
        return "With the alternate request syntax, method is the only query parameter."
    if query[0][1].upper() not in _METHODS:
        return f"method must be one of {', '.join(sorted(_METHODS))}."
    if headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
        return f"The alternate request syntax sends {_FORM} (xAPI Communication 1.3)."
    return None


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _problem(send: Send, detail: str, version: str) -> None:
    response = problem_response(Problem(400, "XAPI_ALTERNATE_SYNTAX", detail))
    response.headers["X-Experience-API-Version"] = "2.0.0" if version == "2.0.0" else "1.0.3"
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}

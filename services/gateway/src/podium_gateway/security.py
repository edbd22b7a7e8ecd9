"""Edge hygiene: security headers, request body size limits, CORS and input checks (SPEC §8).

`EdgeMiddleware` is the gateway's one layer in front of the routes: a
`RequestMiddleware` (request id, metrics, span) whose `handle` does the edge's
work with the same `send` (ADR 0075). The common request (a GET or HEAD without
`Origin`, outside `/xapi/`) is served in that one layer: security headers and
`Vary: Origin` added as its response starts (a tail made once per kind of
request, `_Finish`), the path and query checked for unstorable text
(`input_hygiene.query_problem`). So is an xAPI request without `Origin` and
without the alternate request syntax (xAPI checks its own input): the chain
would only add `Vary: Origin` (ADR 0081). Any other request
(a cross-origin one, one with a body, the xAPI alternate syntax) goes through the full chain,
Starlette's `CORSMiddleware`, `InputHygieneMiddleware` and `AlternateRequestSyntax`,
inside the same security headers and body limits: one layer per request is paid
by every request, and these answer the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from podium_runtime.http import Exchange, RequestMiddleware
from podium_runtime.problems import PROBLEM_JSON, Problem
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium_gateway.config import Settings
from podium_gateway.input_hygiene import (
    OWN_CHECKS,
    InputHygieneMiddleware,
    query_problem,
    send_problem,
)
from podium_gateway.xapi.alternate import AlternateRequestSyntax

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# The API serves JSON; only the interactive docs need scripts and styles from the CDN.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
# xAPI statements with attachments arrive as multipart/mixed (xAPI 1.0.3 Part Three §1.5.2).
UPLOAD_TYPES = ("multipart/form-data", "multipart/mixed", "text/csv", "application/octet-stream")
# Only these routes take files: elsewhere an upload content type does not raise the limit,
# so a JSON body cannot slip past `max_body_bytes` by announcing itself as multipart.
UPLOAD_PATHS = re.compile(
    r"^/v1/competitions/[^/]+/(submissions|answer-key|files|baseline-submissions)$|^/xapi/"
)
# Answers carrying credentials (tokens, LRS secrets) must not be stored by any cache.
NO_STORE_PATHS = ("/v1/auth/", "/v1/admin/lrs-clients")
NO_STORE = (b"cache-control", b"no-store")


DATASET_UPLOAD_PATH = re.compile(r"^/v1/competitions/[^/]+/files/?$")


class PayloadTooLarge(HTTPException):
    """Raised while reading a body that grows past its limit (FastAPI re-raises HTTP errors)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes.")


#: Methods served without the full chain when they come without `Origin` (xAPI: every one).
_SIMPLE_METHODS = frozenset({"GET", "HEAD"})


def _vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Add `Origin` to `Vary` as `CORSMiddleware` does for a request without `Origin`.

    Its `MutableHeaders` assignment joins every `Vary` value in the first one's place.
    """
    values = [value for name, value in headers if name.lower() == b"vary"]
    if not values:
        return [*headers, (b"vary", b"Origin")]
    joined: bytes | None = b", ".join([*values, b"Origin"])
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name.lower() != b"vary":
            kept.append((name, value))
        elif joined is not None:
            kept.append((b"vary", joined))
            joined = None
    return kept


def _secured(
    headers: list[tuple[bytes, bytes]], *, simple: bool, docs: bool, https: bool, no_store: bool
) -> list[tuple[bytes, bytes]]:
    """Return a response's headers with `Vary`, security headers, HSTS and `no-store` added.

    `simple`: the request skipped `CORSMiddleware`, so `Origin` is added to `Vary` as it
    would; a header the response sets itself (a page's own CSP) is kept.
    """
    if simple:
        headers = _vary_origin(headers)
    present = {name.lower() for name, _ in headers}
    extra = [h for h in SECURITY_HEADERS if h[0] not in present]
    if not docs and b"content-security-policy" not in present:
        extra.append((b"content-security-policy", API_CSP))
    if https:
        extra.append(HSTS)
    if no_store:
        headers = [h for h in headers if h[0].lower() != b"cache-control"]
        extra.append(NO_STORE)
    return headers + extra


#: Response headers `_secured` merges with or keeps: a response without any gets a fixed tail.
_MERGED = frozenset(
    {b"vary", b"cache-control", b"content-security-policy", *(name for name, _ in SECURITY_HEADERS)}
)


class _Finish:
    """Finish a response's headers for one kind of request: what `_secured` gives, cheaply.

    A response carrying none of `_MERGED` (most of them) gets the tail `_secured` adds
    to an empty list, made once; any other goes through `_secured` itself.
    """

    __slots__ = ("docs", "https", "no_store", "simple", "tail")

    def __init__(self, simple: bool, docs: bool, https: bool, no_store: bool) -> None:
        self.simple, self.docs, self.https, self.no_store = simple, docs, https, no_store
        self.tail = tuple(_secured([], simple=simple, docs=docs, https=https, no_store=no_store))

    def __call__(self, headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """Return the response's headers with the edge's added, as a new list."""
        for name, _ in headers:
            if name.lower() in _MERGED:
                return _secured(
                    list(headers),
                    simple=self.simple,
                    docs=self.docs,
                    https=self.https,
                    no_store=self.no_store,
                )
        return [*headers, *self.tail]


class EdgeMiddleware(RequestMiddleware):
    """The gateway's one layer: request id, metrics and span, then the edge's own work.

    Security headers, 413 for oversized bodies, CORS and input checks happen in
    `handle`, inside `RequestMiddleware`'s context and with its `send`
    (`Exchange`): one layer and one `send` wrapper for both (ADR 0075).
    """

    def __init__(
        self,
        app: ASGIApp,
        service: str = "gateway",
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        max_dataset_bytes: int | None = None,
        force_hsts: bool = False,
        docs_paths: Sequence[str] = ("/docs", "/redoc"),
        cors_origins: Sequence[str] = (),
    ) -> None:
        super().__init__(app, service)
        # The full chain, for every request the short path does not serve exactly.
        self.chain: ASGIApp = CORSMiddleware(
            InputHygieneMiddleware(AlternateRequestSyntax(app)),
            allow_origins=cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "X-Experience-API-Version",
            ],
            expose_headers=["X-Request-ID", "Retry-After", "X-Experience-API-Consistent-Through"],
            max_age=600,
        )
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_dataset_bytes = max_dataset_bytes or max_upload_bytes
        self.force_hsts = force_hsts
        self.docs_paths = tuple(docs_paths)
        #: How a response's headers are finished, by (simple, docs, https, no_store).
        self.finishes = {
            flags: _Finish(*flags) for flags in itertools.product((False, True), repeat=4)
        }

    def _limit(self, scope: Scope, content_type: bytes | None) -> int:
        """Return the body limit of a request with this (last) `Content-Type`."""
        if content_type is None:
            return self.max_body_bytes
        media = content_type.decode("latin-1").lower()
        if media.startswith(UPLOAD_TYPES) and UPLOAD_PATHS.match(scope.get("path", "")):
            # Competition data files stream to the blob store: GiB-sized ones are normal.
            if scope["method"] == "POST" and DATASET_UPLOAD_PATH.match(scope.get("path", "")):
                return self.max_dataset_bytes
            return self.max_upload_bytes
        return self.max_body_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Exchange) -> None:
        """Serve one HTTP request inside its id, metrics and span."""
        https = scope.get("scheme") == "https" or self.force_hsts
        path = scope.get("path", "")
        if path == "/metrics" and _proxied(scope):
            # Metrics are for the scraper inside the cluster, which calls the pod directly;
            # a request that came through the ingress is from the public.
            await _send_not_found(send)
            return
        # One pass over the request's headers: the last Content-Type, the first Content-Length.
        origin = False
        content_type: bytes | None = None
        length: bytes | None = None
        waits_to_send = False  # `Expect: 100-continue`: the body comes only if asked for
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                origin = True
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length" and length is None:
                length = value
            elif name == b"expect":
                waits_to_send = value.lower() == b"100-continue"
        own = path.startswith(OWN_CHECKS)
        # Without `Origin` the full chain would only add `Vary: Origin` (CORS) and, on a
        # `GET`/`HEAD` outside xAPI, check the query (hygiene); xAPI checks its own input
        # and needs `AlternateRequestSyntax` only for a `method` query parameter.
        if own:
            simple = not origin and _plain_query(scope.get("query_string", b""))
        else:
            simple = not origin and scope["method"] in _SIMPLE_METHODS
        send.finish = self.finishes[
            simple, path.startswith(self.docs_paths), https, path.startswith(NO_STORE_PATHS)
        ]
        limit = self._limit(scope, content_type)
        declared = _content_length(length)
        if declared is not None and declared > limit:
            if not waits_to_send and declared <= DRAIN_BYTES:
                await _drain(receive, declared)
            await _send_too_large(send, limit)
            return
        received = 0

        async def receive_limited() -> Message:
            # Chunked bodies have no Content-Length: count what actually arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        if simple and not own:
            found = query_problem(scope)
            if found:
                await send_problem(send, *found)
                return
        try:
            await (self.app if simple else self.chain)(scope, receive_limited, send)
        except PayloadTooLarge:
            if send.started:
                raise
            await _drain(receive, DRAIN_BYTES - received)
            await _send_too_large(send, limit)


def _plain_query(query: bytes) -> bool:
    """True when a query string cannot name a `method` parameter (xAPI alternate syntax).

    Its name would be written out, or escaped with `%`: a query with neither has none.
    """
    return b"method" not in query and b"%" not in query


def _proxied(scope: Scope) -> bool:
    """True when a proxy forwarded the request (public traffic through the ingress)."""
    return any(name in (b"x-forwarded-for", b"forwarded") for name, _ in scope.get("headers", []))


async def _send_not_found(send: Send) -> None:
    problem = Problem(404, "NOT_FOUND", "Not Found")
    body = json.dumps(problem.body()).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(value: bytes | None) -> int | None:
    """Return the declared `Content-Length`, None when absent or not a number."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


#: A refused body up to this size is read and dropped before its 413 is sent: a server
#: that closes a connection with unread data makes the kernel reset it, and the client
#: then sees the reset instead of the answer. A larger one is not worth reading.
DRAIN_BYTES = 16 << 20
DRAIN_SECONDS = 2.0


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop what is left of a refused body, within `budget` bytes and a time limit."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request":
                    return
                budget -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


async def _send_too_large(send: Send, limit: int) -> None:
    problem = Problem(413, "PAYLOAD_TOO_LARGE", f"The request body exceeds {limit} bytes.")
    body = json.dumps(problem.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def edge_layer(settings: Settings) -> tuple[type[RequestMiddleware], dict[str, Any]]:
    """Return the gateway's request layer and its options (`ServiceRuntime.create_app`)."""
    return EdgeMiddleware, {
        "max_body_bytes": settings.max_body_bytes,
        "max_upload_bytes": settings.max_upload_bytes,
        "max_dataset_bytes": settings.max_dataset_bytes,
        "force_hsts": settings.force_hsts,
        "cors_origins": settings.cors_origins,
    }

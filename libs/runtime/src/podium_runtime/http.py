"""HTTP plumbing every service shares: request ids, metrics, health routes (SPEC §5, §5.7)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium_runtime import tracing
from podium_runtime.context import bound, new_request_id
from podium_runtime.metrics import HTTP

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HealthCheck = Callable[[], Awaitable[Any]]


#: Trace context headers (W3C trace context and baggage): the only ones a span needs.
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
#: Paths served without a span (probes and scrapes would drown the traces).
_UNTRACED = ("/health", "/metrics")


#: Headers a response is given: `(name, value)` pairs of bytes, as ASGI carries them.
RawHeaders = list[tuple[bytes, bytes]]


class Exchange:
    """The `send` a request's app is given: notes the status, finishes the headers.

    `finish` (None: nothing) returns the response's headers rewritten, as a new
    list, then `tail` is appended (the echoed request id). A subclass of `RequestMiddleware` sets
    them in `handle` instead of wrapping `send` once more.
    """

    __slots__ = ("finish", "send", "started", "status", "tail")

    def __init__(self, send: Send, tail: tuple[tuple[bytes, bytes], ...]) -> None:
        self.send = send
        self.tail = tail
        self.finish: Callable[[Any], RawHeaders] | None = None
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        """Send one message; a response's start gets its status noted and headers finished."""
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = message.get("headers", ())
            if self.finish is None:
                message["headers"] = [*headers, *self.tail]
            else:
                finished = self.finish(headers)
                finished.extend(self.tail)
                message["headers"] = finished
        await self.send(message)


class RequestMiddleware:
    """One layer for what every request gets (SPEC §5, ADR 0038).

    Binds `X-Request-ID` (or a fresh id) to the context and echoes it, records
    the request's metrics, and opens one SERVER span named after its route,
    continuing the caller's `traceparent` (not for `/health` and `/metrics`;
    recorded only while spans are exported, `tracing.server_span`).
    One pure-ASGI layer with one `send` (`Exchange`): each layer costs every
    request, so a service's own per-request work (the gateway's edge) goes in
    a subclass's `handle`, inside the same layer (ADR 0075).
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def handle(self, scope: Scope, receive: Receive, send: Exchange) -> None:
        """Serve the request inside its id, span and metrics: here, the app does."""
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        carrier: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = incoming or value.decode("latin-1")
            elif name in _TRACE_HEADERS:
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_request_id()
        exchange = Exchange(send, ((b"x-request-id", request_id.encode()),))
        started = time.perf_counter()
        method = scope["method"]
        if scope.get("path", "").startswith(_UNTRACED):
            with bound(request_id):
                try:
                    await self.handle(scope, receive, exchange)
                finally:
                    route = getattr(scope.get("route"), "path", "unmatched")
                    HTTP.record(method, route, exchange.status, time.perf_counter() - started)
            return
        with tracing.server_span(self.service, method, carrier) as span, bound(request_id):
            try:
                await self.handle(scope, receive, exchange)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                status = exchange.status
                HTTP.record(method, route, status, time.perf_counter() - started)
                if span.is_recording():  # not while nothing exports (`tracing.server_span`)
                    self._describe(span, method, route, status)

    @staticmethod
    def _describe(span: Any, method: str, route: str, status: int) -> None:
        """Name the span after its route and record the request's outcome on it."""
        span.update_name(f"{method} {route}")
        span.set_attributes(
            {
                "http.request.method": method,
                "http.route": route,
                "http.response.status_code": status,
            }
        )
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))


async def run_checks(checks: dict[str, HealthCheck], timeout: float) -> tuple[bool, dict[str, Any]]:
    """Run every readiness check concurrently with a timeout; return (all ok, details)."""

    async def one(check: HealthCheck) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), timeout)
        except Exception as exc:
            return {"ok": False, "error": type(exc).__name__ + (f": {exc}" if str(exc) else "")}
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    details = dict(zip(names, results, strict=True))
    return all(r["ok"] for r in results), details


def service_version(service: str) -> dict[str, str]:
    """Return the service's name, package version and build (`PODIUM_BUILD_COMMIT`)."""
    try:
        version = importlib.metadata.version(f"podium-{service}")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "service": service,
        "version": version,
        "commit": os.environ.get("PODIUM_BUILD_COMMIT", "unknown"),
    }


def add_operations_routes(
    router: APIRouter,
    checks: dict[str, HealthCheck],
    timeout: float,
    on_scrape: list[Callable[[], Awaitable[None]]],
    service: str = "podium",
) -> None:
    """Add `/health/live`, `/health/ready`, `/metrics` and `/version` to `router`.

    `ServiceRuntime.create_app` adds them to the app's own router: a route of an
    included router is matched twice per request (the inclusion, then its routes).
    """
    about = service_version(service)
    tags: list[str | Enum] = ["operations"]

    @router.get(
        "/version", tags=tags, summary="Service name, version and build commit (SPEC §10.1)"
    )
    async def version() -> dict[str, str]:
        return about

    @router.get(
        "/health/live",
        tags=tags,
        summary="Liveness: the process answers (no dependency touched)",
    )
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        tags=tags,
        summary="Readiness: database, Redis and broker reachable",
        responses={503: {"description": "A dependency is down; details per check"}},
    )
    async def ready() -> JSONResponse:
        ok, details = await run_checks(checks, timeout)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": details},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", tags=tags, summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        for hook in on_scrape:
            try:
                await hook()
            except Exception:  # noqa: S112 - a failed refresh must not hide the other metrics
                continue
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

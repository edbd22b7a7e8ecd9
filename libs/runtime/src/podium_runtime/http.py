"""HTTP plumbing every service shares: request ids, metrics, health routes (SPEC §5, §5.7)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium_runtime import tracing
from podium_runtime.context import bound
from podium_runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HealthCheck = Callable[[], Awaitable[Any]]


class RequestContextMiddleware:
    """Bind `X-Request-ID` (or a fresh id) to the context, echo it, and record metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid.uuid4())
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        with bound(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
                HTTP_LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)


class TracingMiddleware:
    """One SERVER span per request, continuing the caller's `traceparent` (ADR 0038)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request in a span named after its route."""
        if scope["type"] != "http" or scope.get("path", "").startswith(("/health", "/metrics")):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope["method"]
        with tracing.server_span(self.service, method, headers) as span:
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
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


def operations_router(
    checks: dict[str, HealthCheck],
    timeout: float,
    on_scrape: list[Callable[[], Awaitable[None]]],
    service: str = "podium",
) -> APIRouter:
    """Return `/health/live`, `/health/ready`, `/metrics` and `/version`."""
    router = APIRouter(tags=["operations"])
    about = service_version(service)

    @router.get("/version", summary="Service name, version and build commit (SPEC §10.1)")
    async def version() -> dict[str, str]:
        return about

    @router.get("/health/live", summary="Liveness: the process answers (no dependency touched)")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        summary="Readiness: database, Redis and broker reachable",
        responses={503: {"description": "A dependency is down; details per check"}},
    )
    async def ready() -> JSONResponse:
        ok, details = await run_checks(checks, timeout)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": details},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        for hook in on_scrape:
            try:
                await hook()
            except Exception:  # noqa: S112 - a failed refresh must not hide the other metrics
                continue
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router

"""Shared handles for gateway routers: settings, Redis, the one internal HTTP client (SPEC §6).

Every router reuses `app.state.http` (created in the lifespan) for internal
calls, so connections are pooled across the whole gateway. `call()` adds the
request id and turns an unreachable service into a 503 problem; `relay()`
passes an internal answer (problems included) through unchanged, and raising
`Relayed` does the same from anywhere inside a route. `publish()` is how a
route queues a command: it returns once the broker acknowledged.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
import redis.asyncio as redis
from fastapi import Depends, Request
from fastapi.responses import Response
from podium_runtime import tracing
from podium_runtime.context import current_correlation_id
from podium_runtime.problems import Problem
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.script_line import Scripts

from podium_gateway.client_ip import client_ip as resolve_client_ip
from podium_gateway.config import Settings

log = logging.getLogger(__name__)

#: Headers of an internal answer the gateway passes on to the caller.
RELAYED_HEADERS = ("content-type", "retry-after", "www-authenticate", "location")


async def get_settings(request: Request) -> Settings:
    """Return the settings the app was built with."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_runtime(request: Request) -> ServiceRuntime:
    """Return the app's runtime (Redis, publisher, ...)."""
    return request.app.state.runtime  # type: ignore[no-any-return]


async def get_redis(request: Request) -> redis.Redis:
    """Return the shared Redis client."""
    return request.app.state.runtime.redis  # type: ignore[no-any-return]


async def get_scripts(request: Request) -> Scripts:
    """Return how the app runs its Redis scripts: on its script line once the lifespan opened it."""
    return request.app.state.scripts  # type: ignore[no-any-return]


async def get_http(request: Request) -> httpx.AsyncClient:
    """Return the shared internal HTTP client (created in the lifespan)."""
    return request.app.state.http  # type: ignore[no-any-return]


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a
# thread hop per dependency per request (issue #14).
SettingsDep = Annotated[Settings, Depends(get_settings)]
RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]
ScriptsDep = Annotated[Scripts, Depends(get_scripts)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]


def client_ip(request: Request, settings: Settings) -> str:
    """Return the caller's IP; `X-Forwarded-For` counts only from trusted proxies."""
    return resolve_client_ip(request, settings.trusted_proxies)


async def call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    service: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Call an internal service with the request id; 503 `SERVICE_UNAVAILABLE` if unreachable."""
    # The request id, and the trace context so the callee's span joins this trace.
    sent = tracing.inject({"X-Request-ID": current_correlation_id(), **(headers or {})})
    try:
        return await http.request(method, url, headers=sent, **kwargs)
    except httpx.TransportError as exc:
        # The kind of failure (timeout, refused, closed) without the URL's query string.
        log.warning(
            "internal call failed",
            extra={"service": service, "method": method, "error": type(exc).__name__},
        )
        raise Problem(
            503,
            "SERVICE_UNAVAILABLE",
            f"The {service} service is not reachable; try again shortly.",
            headers={"Retry-After": "1"},
        ) from exc


def relay(response: httpx.Response) -> Response:
    """Pass an internal answer (status, body, the relevant headers) on to the caller."""
    headers = {k: v for k, v in response.headers.items() if k.lower() in RELAYED_HEADERS}
    return Response(content=response.content, status_code=response.status_code, headers=headers)


class Relayed(Exception):
    """Raised to end a request with an internal answer, passed on unchanged by `relay()`."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def answer_relayed(request: Request, exc: Exception) -> Response:
    """Exception handler of `Relayed` (registered by `create_api`)."""
    assert isinstance(exc, Relayed)
    return relay(exc.response)


async def publish(runtime: ServiceRuntime, event: Any, what: str) -> None:
    """Publish a command's event, acknowledged; 503 `SERVICE_UNAVAILABLE` when it cannot be.

    `what` names the command in the problem, e.g. "The submission could not be queued".
    """
    try:
        await runtime.publisher.publish(event)
    except Exception as exc:
        raise Problem(
            503,
            "SERVICE_UNAVAILABLE",
            f"The {what} could not be queued; try again.",
            headers={"Retry-After": "1"},
        ) from exc

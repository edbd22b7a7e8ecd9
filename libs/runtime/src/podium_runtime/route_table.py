"""An app's routes as one flat table, matched only where a request's path can lead (ADR 0080).

FastAPI 0.165 keeps an included router as a single route (`_IncludedRouter`):
a request is matched against every inclusion in turn, each one walking its own
routes with scope bookkeeping around every candidate, and the inclusion it
chooses matches its routes once more to handle it. The gateway's xAPI routes,
behind 20 inclusions, paid more for their matching than for their work.

- `add_routes` puts a router's routes on the app's own router, each built as
  `include_router` describes it (same path, tags, responses, dependencies,
  response class, operation id, OpenAPI entry): matched once, by its own
  regular expression. A router it cannot flatten exactly (nested inclusions,
  mounts, WebSocket or frontend routes, its own lifespan, body or form limits)
  is included as FastAPI does.
- `RouteIndex` takes the router's place in front of its routes: a request is
  matched, in the table's order, only against the routes whose literal path
  start agrees with its first two path segments; every other route's pattern
  could not match it. When none of those matches, the router runs in full, so
  redirects, low-priority routes and 404/405 answers are the router's own.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from fastapi.utils import get_value_or_default
from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

#: Path segments a route's literal start is indexed by.
DEPTH = 2
#: Paths whose table `RouteIndex` keeps at hand (the hot ones: health, xAPI, a board).
PATHS_KEPT = 1024

#: A router's default lifespan type: a router with another one must be included.
_DEFAULT_LIFESPAN = type(APIRouter().lifespan_context)


def _flattenable(router: APIRouter) -> bool:
    """True when `router` holds only `APIRoute`s and nothing an inclusion would apply."""
    return (
        all(isinstance(route, APIRoute) for route in router.routes)
        and not router._low_priority_routes
        and not router.on_startup
        and not router.on_shutdown
        and isinstance(router.lifespan_context, _DEFAULT_LIFESPAN)
        and router.max_body_size is None
        and not router.form_limits
    )


def add_routes(
    target: APIRouter, router: APIRouter, responses: dict[int | str, dict[str, Any]] | None = None
) -> None:
    """Add `router`'s routes to `target` as `target.include_router(router, responses=...)` would.

    Each route is built again on `target` (a route class's constructor must give
    the same route from its own resolved arguments), so it is matched once and
    handled directly. A router `_flattenable` refuses is included instead.
    """
    if not _flattenable(router):
        target.include_router(router, responses=responses)
        return
    for route in router.routes:
        assert isinstance(route, APIRoute)
        options: dict[str, Any] = {}
        if route.form_limits:
            options["form_limits"] = route.form_limits
        target.add_api_route(
            route.path,
            route.endpoint,
            # A streamed item type is inferred from the endpoint, as it was the first time.
            response_model=DefaultPlaceholder(None)
            if route.stream_item_type is not None
            else route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses={**(responses or {}), **route.responses},
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=get_value_or_default(
                route.response_class, router.default_response_class
            ),
            name=route.name,
            route_class_override=type(route),
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=get_value_or_default(
                route.generate_unique_id_function, router.generate_unique_id_function
            ),
            strict_content_type=get_value_or_default(
                route.strict_content_type, router.strict_content_type
            ),
            max_body_size=route.max_body_size,
            **options,
        )


def route_key(route: BaseRoute) -> tuple[str, ...]:
    """Return the path segments every path `route` can match starts with (up to `DEPTH`).

    The literal text before a route's first parameter is matched as written, so a
    segment followed by `/` in it is fixed; a route without a path template (a
    host route, anything unknown) gets `()`, which every path may reach.
    """
    template = getattr(route, "path_format", None)
    if not isinstance(route, Route | WebSocketRoute | Mount) or not isinstance(template, str):
        return ()
    head, brace, _ = template.partition("{")
    if not head.startswith("/"):
        return ()
    segments = head[1:].split("/")
    if brace:
        segments.pop()  # the text just before a parameter is not a whole segment
    return tuple(segments[:DEPTH])


class RouteIndex:
    """Match a request only against the routes its first path segments can reach.

    Installed as the router's `middleware_stack` (the router calls it for every
    request). Per key, a copy of the router holds the routes whose `route_key` is
    a prefix of that key, in the router's order; a request's first FULL or
    PARTIAL match among them is the one the whole router would find, since no
    other route can match its path. Without one the whole router runs (its
    slash redirect, low-priority routes, 404 and 405). The table is made again
    when the router's routes change in number (routes added after the app was
    built, the web app's catch-all).
    """

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._count = -1
        self._tables: dict[tuple[str, ...], APIRouter] = {}
        #: The table of each path seen lately (`PATHS_KEPT` at most, then started afresh).
        self._by_path: dict[str, APIRouter | None] = {}

    def _build(self) -> None:
        routes: Sequence[BaseRoute] = self.router.routes
        self._count = len(routes)
        self._tables = {}
        self._by_path = {}
        if not all(isinstance(route, Route | WebSocketRoute | Mount | Host) for route in routes):
            return  # an inclusion matches by its own rules: the router runs in full
        keyed = [(route_key(route), route) for route in routes]
        keys = {key[:depth] for key, _ in keyed for depth in range(len(key) + 1)}
        for key in keys:
            table = copy.copy(self.router)
            table.routes = [route for found, route in keyed if key[: len(found)] == found]
            # Past its own routes, a table hands the request to the whole router.
            table.redirect_slashes = False
            table._low_priority_routes = []
            table.default = self.router.app
            self._tables[key] = table

    def table(self, path: str) -> APIRouter | None:
        """Return the copy of the router holding the routes `path` can match, None for all."""
        if len(self.router.routes) != self._count:
            self._build()
        try:
            return self._by_path[path]
        except KeyError:
            pass
        found = self._find(path)
        if len(self._by_path) >= PATHS_KEPT:
            self._by_path = {}
        self._by_path[path] = found
        return found

    def _find(self, path: str) -> APIRouter | None:
        if not self._tables or not path.startswith("/"):
            return None
        segments = tuple(path[1:].split("/", DEPTH)[:DEPTH])
        for depth in range(len(segments), -1, -1):
            found = self._tables.get(segments[:depth])
            if found is not None:
                return found
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with the table its path selects (or the whole router)."""
        if scope["type"] == "http":
            # `root_path` is stripped as `get_route_path` strips it, only when it is set.
            path = scope["path"] if not scope.get("root_path") else None
            table = self.table(path) if path is not None else None
            if table is not None:
                scope.setdefault("router", self.router)
                await table.app(scope, receive, send)
                return
        await self.router.app(scope, receive, send)


def index_routes(router: APIRouter) -> None:
    """Put a `RouteIndex` in front of `router`'s routes (a router without middleware of its own)."""
    assert router.middleware_stack == router.app, "the router has middleware of its own"
    router.middleware_stack = RouteIndex(router)

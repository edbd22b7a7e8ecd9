"""The gateway's route table chooses every route as the whole router does (ADR 0080)."""

from __future__ import annotations

import re
from typing import Any

from podium_gateway.app import create_api
from podium_gateway.config import Settings
from podium_runtime.route_table import RouteIndex
from starlette.routing import BaseRoute, Match


def concrete(template: str) -> str:
    """Return a path a route template matches: every parameter filled in."""
    return re.sub(r"{[^}:]+:path}", "a/b", re.sub(r"{[^}:]+(:(?!path)[^}]+)?}", "7", template))


def first_match(routes: list[BaseRoute], scope: dict[str, Any]) -> BaseRoute | None:
    """Return the route a router would choose: the first FULL match, else the first PARTIAL."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_every_route_of_a_service_is_found_in_its_table() -> None:
    """For the gateway's own routes, the table of each route's path chooses as the router does."""
    app = create_api(Settings())
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    paths = {concrete(route.path_format) for route in app.router.routes if hasattr(route, "path")}
    paths |= {"/", "/xapi/", "/v1/competitions/", "/health/live/", "/nothing", "/a/b/c/d"}
    assert len(paths) > 100
    # The xAPI statements are matched against a handful of routes, not the whole app.
    assert len(index.table("/xapi/statements").routes) < 20  # type: ignore[union-attr]
    for path in sorted(paths):
        table = index.table(path)
        assert table is not None, path
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
            scope = {"type": "http", "path": path, "root_path": "", "method": method}
            assert first_match(table.routes, scope) is first_match(app.router.routes, scope), (
                method,
                path,
            )

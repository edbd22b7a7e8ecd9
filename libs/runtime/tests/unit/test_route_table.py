"""The flat, indexed route table answers as FastAPI's included routers do (ADR 0080)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from podium_runtime.route_table import add_routes, index_routes, route_key
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: {"description": "Conflict"},
    429: {"description": "Too many requests"},
}


class Item(BaseModel):
    """A response model, so the routes carry response fields."""

    id: str
    name: str


class TaggedRoute(APIRoute):
    """A route class of its own, as the xAPI routers have."""


async def caller(request: Request) -> str:
    """A dependency every route of one router takes."""
    return request.headers.get("x-caller", "anonymous")


def routers() -> list[APIRouter]:
    """Routers shaped like the services': prefixes, tags, dependencies, literal before template."""
    items = APIRouter(prefix="/v1/items", tags=["items"], dependencies=[Depends(caller)])

    @items.get("/mine", response_model=list[Item])
    async def mine() -> list[Item]:
        """Literal route declared before the template that also matches it."""
        return [Item(id="mine", name="Mine")]

    @items.get("/{item_id}", responses={404: {"description": "Unknown item"}})
    async def one(item_id: str) -> Item:
        return Item(id=item_id, name="One")

    @items.api_route("/{item_id}/parts/{rest:path}", methods=["GET", "HEAD"])
    async def parts(item_id: str, rest: str) -> dict[str, str]:
        return {"item": item_id, "rest": rest}

    @items.post("", status_code=201)
    async def create(item: Item, who: str = Depends(caller)) -> dict[str, str]:
        return {"created": item.id, "by": who}

    custom = APIRouter(prefix="/xapi", tags=["xapi"], route_class=TaggedRoute)

    @custom.get("/statements")
    async def statements(since: str | None = None) -> dict[str, str | None]:
        return {"since": since}

    @custom.put("/statements")
    async def put_statement() -> dict[str, bool]:
        return {"stored": True}

    other = APIRouter(tags=["other"])

    @other.get("/v1/items-count")
    async def count() -> dict[str, int]:
        return {"count": 3}

    @other.get("/v1/{kind}/about")
    async def about(kind: str) -> dict[str, str]:
        return {"kind": kind}

    @other.get("/health/live/")
    async def slash() -> dict[str, str]:
        return {"slash": "ok"}

    catch_all = APIRouter(include_in_schema=False)

    @catch_all.api_route("/files/{path:path}", methods=["GET", "POST"])
    async def anything(path: str) -> dict[str, str]:
        return {"path": path}

    return [items, custom, other, catch_all]


def build(flat: bool) -> FastAPI:
    """Return the app built the FastAPI way (`flat=False`) or with the route table."""
    app = FastAPI()

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"version": "1"}

    for router in routers():
        if flat:
            add_routes(app.router, router, PROBLEMS)
        else:
            app.include_router(router, responses=PROBLEMS)
    if flat:
        index_routes(app.router)
    return app


REQUESTS = [
    ("GET", "/version"),
    ("GET", "/version/"),
    ("GET", "/v1/items/mine"),
    ("GET", "/v1/items/abc"),
    ("GET", "/v1/items/abc/"),
    ("POST", "/v1/items/abc"),
    ("DELETE", "/v1/items/mine"),
    ("HEAD", "/v1/items/abc/parts/a/b/c"),
    ("GET", "/v1/items/abc/parts/"),
    ("POST", "/v1/items"),
    ("POST", "/v1/items?invalid"),
    ("GET", "/v1/items"),
    ("GET", "/v1/items-count"),
    ("GET", "/v1/things/about"),
    ("GET", "/xapi/statements?since=x"),
    ("PUT", "/xapi/statements"),
    ("DELETE", "/xapi/statements"),
    ("GET", "/xapi/statements/"),
    ("GET", "/health/live"),
    ("GET", "/"),
    ("GET", "//double"),
    ("POST", "/nothing/here"),
    ("DELETE", "/nothing/here"),
    ("GET", "/files/a/b.txt"),
    ("POST", "/files/"),
]


async def answers(app: FastAPI) -> list[tuple[int, str, str | None]]:
    """Return status, body and redirect target of every request in `REQUESTS`."""
    got = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, url in REQUESTS:
            body = {"id": "a", "name": "A"} if method == "POST" else None
            if url.endswith("?invalid"):
                body = {"name": "no id"}
            response = await client.request(method, url, json=body)
            got.append((response.status_code, response.text, response.headers.get("location")))
    return got


async def test_the_table_answers_as_included_routers_do() -> None:
    expected = await answers(build(flat=False))
    got = await answers(build(flat=True))
    assert got == expected
    # The requests reach every kind of answer: the literal before the template, a
    # template, a path parameter, a 405, a slash redirect, a body, a catch-all.
    statuses = {status for status, _, _ in expected}
    assert {200, 201, 307, 404, 405, 422} <= statuses, statuses


def test_the_openapi_document_is_the_same() -> None:
    included = build(flat=False).openapi()
    flat = build(flat=True).openapi()
    assert json.dumps(flat, sort_keys=True) == json.dumps(included, sort_keys=True)
    assert list(flat["paths"]) == list(included["paths"])


def test_routes_are_on_the_app_router_with_their_router_settings() -> None:
    app = build(flat=True)
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert len(routes) == 1 + 4 + 2 + 3 + 1
    statements = next(route for route in routes if route.path == "/xapi/statements")
    assert isinstance(statements, TaggedRoute)
    assert statements.tags == ["xapi"]
    assert list(statements.responses) == [409, 429]
    one = next(route for route in routes if route.path == "/v1/items/{item_id}")
    assert list(one.responses) == [409, 429, 404]
    assert len(one.dependencies) == 1
    # The app's dependency overrides reach the route, as through an inclusion.
    assert one.dependency_overrides_provider is app


def test_a_router_that_cannot_be_flattened_is_included() -> None:
    app = FastAPI()
    outer, inner = APIRouter(prefix="/outer"), APIRouter(prefix="/inner")

    @inner.get("/x")
    async def x() -> dict[str, str]:
        return {}

    outer.include_router(inner)
    add_routes(app.router, outer)
    assert [type(route).__name__ for route in app.router.routes][-1] == "_IncludedRouter"


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("/version", ("version",)),
        ("/health/live", ("health", "live")),
        ("/v1/competitions/mine", ("v1", "competitions")),
        ("/v1/competitions/{competition_id}", ("v1", "competitions")),
        ("/v1/{kind}/about", ("v1",)),
        ("/v1/items-{n}", ("v1",)),
        ("/{path:path}", ()),
        ("/files/{path:path}", ("files",)),
        ("/", ("",)),
    ],
)
def test_route_key(template: str, key: tuple[str, ...]) -> None:
    route = APIRoute(template, lambda: None)
    assert route_key(route) == key


def test_mount_and_unknown_routes_are_keyed_safely() -> None:
    mount = Mount("/static", app=StaticFiles(directory=".", check_dir=False))
    assert route_key(mount) == ("static",)
    assert route_key(BaseRoute()) == ()

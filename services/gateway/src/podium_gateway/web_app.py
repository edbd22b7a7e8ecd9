"""The web app and the API docs, served by the gateway from local files (SPEC §10.1).

`GET /` and every client route answer the single-page app's `index.html` (the
SPA fallback) without shadowing the API: paths under `/v1`, `/xapi`, `/health`,
`/metrics`, `/docs`, `/.well-known` and `/openapi.json` keep their own answers
(a 404 problem when no route matches). Vite's hashed files under `/assets/`
never change, so they are cached for a year as immutable; `index.html` is
revalidated on every load so a deploy is picked up at once. The Content
Security Policy allows only the app's own scripts and styles.

`/docs` is Swagger UI from the `swagger-ui-bundle` wheel: no CDN, so the page
works offline and under a strict CSP.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from podium_runtime.problems import Problem
from podium_runtime.route_table import add_routes

#: Paths the SPA fallback never answers: they belong to the API and operations.
RESERVED_PREFIXES = frozenset(
    {
        "v1",
        "xapi",
        "health",
        "metrics",
        "docs",
        "openapi.json",
        ".well-known",
        "version",
        "verify-email",
    }
)
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline style attributes; its scripts still come only from here.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Podium API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""
_DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
});"""


def default_web_root() -> Path:
    """Return `web/dist` of the source tree (a container sets `PODIUM_GATEWAY_WEB_ROOT`)."""
    return Path(__file__).resolve().parents[4] / "web" / "dist"


def docs_router() -> APIRouter:
    """Return the routes of the API docs page and its local assets."""
    router = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": DOCS_CSP}

    @router.get("/docs")
    async def docs_page() -> HTMLResponse:
        """Swagger UI over `/openapi.json`."""
        return HTMLResponse(_DOCS_PAGE, headers={**headers, "Cache-Control": REVALIDATE})

    @router.get("/docs/init.js")
    async def docs_init() -> Response:
        """Start Swagger UI (a file, not an inline script, so the CSP stays strict)."""
        return Response(_DOCS_INIT, media_type="text/javascript", headers=headers)

    @router.get("/docs/{name}")
    async def docs_asset(name: str) -> FileResponse:
        """One of Swagger UI's bundled files."""
        if name not in SWAGGER_FILES:
            raise Problem(404, "NOT_FOUND", "No such file.")
        cache = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(SWAGGER_DIR / name, headers={**headers, **cache})

    return router


def web_router(root: Path) -> APIRouter:
    """Return the catch-all route serving the built app in `root` (register it last)."""
    router = APIRouter(include_in_schema=False)
    resolved_root = root.resolve()

    # Every method, so an unknown API path stays a 404 problem rather than a 405.
    @router.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    async def web_app(path: str, request: Request) -> Response:
        """A file of the built app, or `index.html` for a client route."""
        reserved = path.split("/", 1)[0] in RESERVED_PREFIXES
        if reserved or request.method not in ("GET", "HEAD"):
            raise Problem(404, "NOT_FOUND", f"No route {request.method} {request.url.path}.")
        index = resolved_root / "index.html"
        if not index.is_file():
            raise Problem(
                404, "NOT_FOUND", "The web app is not built; run `make web` (the API is at /docs)."
            )
        if path:
            candidate = (resolved_root / path).resolve()
            if candidate.is_relative_to(resolved_root) and candidate.is_file():
                cache = IMMUTABLE if path.startswith("assets/") else "public, max-age=3600"
                return _file(candidate, cache, request)
            if path.startswith("assets/"):
                raise Problem(404, "NOT_FOUND", f"No file {request.url.path}.")
        return _file(index, REVALIDATE, request)

    return router


def _file(file: Path, cache: str, request: Request) -> FileResponse:
    """Send a built file, its gzip copy (written by the build) when the browser takes gzip."""
    media_type, _ = mimetypes.guess_type(file.name)
    headers = {
        "Cache-Control": cache,
        "Content-Security-Policy": APP_CSP,
        "Vary": "Accept-Encoding",
    }
    packed = file.with_name(file.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and packed.is_file():
        headers["Content-Encoding"] = "gzip"
        return FileResponse(packed, media_type=media_type, headers=headers)
    return FileResponse(file, media_type=media_type, headers=headers)


def mount_web(app: FastAPI, root: Path) -> None:
    """Add the docs page and, after every API route, the web app's catch-all."""
    add_routes(app.router, docs_router())
    add_routes(app.router, web_router(root))

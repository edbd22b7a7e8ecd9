"""The gateway serves the web app and the API docs from local files (SPEC §10.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from podium_gateway.app import create_api
from podium_gateway.config import Settings
from podium_gateway.openapi_export import openapi_document, render

REPO = Path(__file__).resolve().parents[4]
INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-3f2a.js"></script>'


def _built_app(root: Path) -> TestClient:
    """A gateway (lifespan not started: no infrastructure) over a small built app in `root`."""
    (root / "assets").mkdir()
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-3f2a.js").write_text("console.log(1)")
    (root / "favicon.svg").write_text("<svg/>")
    return TestClient(create_api(Settings(web_root=root)))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """One gateway for the module's read-only checks (building the app is costly)."""
    return _built_app(tmp_path_factory.mktemp("web"))


def test_client_routes_get_index_html_revalidated_under_a_strict_csp(client: TestClient) -> None:
    for path in ("/", "/competitions/8b0c/leaderboard", "/join/abc", "/login?next=/x"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.text == INDEX
        assert answer.headers["cache-control"] == "no-cache"
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe-inline" not in csp and "cdn" not in csp


def test_hashed_assets_are_immutable_and_missing_ones_404(client: TestClient) -> None:
    asset = client.get("/assets/app-3f2a.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-type"].startswith("text/javascript")
    assert client.get("/favicon.svg").headers["cache-control"] == "public, max-age=3600"
    missing = client.get("/assets/app-0000.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.get("/../../etc/passwd").text == INDEX  # never a file outside the app


def test_gzip_copies_go_to_browsers_that_accept_them(tmp_path: Path) -> None:
    import gzip

    client = _built_app(tmp_path)  # its own files: it adds a compressed copy
    (tmp_path / "assets" / "app-3f2a.js.gz").write_bytes(gzip.compress(b"console.log(1)"))
    packed = client.get("/assets/app-3f2a.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.text == "console.log(1)"  # the client decompresses
    assert "Accept-Encoding" in packed.headers["vary"]
    plain = client.get("/assets/app-3f2a.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_the_fallback_never_shadows_the_api(client: TestClient) -> None:
    for path in ("/v1/nothing-here", "/xapi/nothing", "/health/nothing", "/docs/x.js", "/v1"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "NOT_FOUND"
    assert client.post("/v1/nothing-here").status_code == 404
    assert client.post("/competitions").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "Podium gateway"
    assert client.get("/health/live").status_code == 200


def test_docs_load_swagger_ui_from_the_gateway_itself(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert '<script src="/docs/swagger-ui-bundle.js">' in page.text
    assert "http" not in page.text.split("<body>")[1]  # nothing from another origin
    assert "script-src 'self'" in page.headers["content-security-policy"]
    bundle = client.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert client.get("/docs/init.js").text.startswith("window.ui = SwaggerUIBundle(")
    assert client.get("/docs/swagger-ui.css").status_code == 200


def test_without_a_build_the_root_says_how_to_make_one(tmp_path: Path) -> None:
    answer = TestClient(create_api(Settings(web_root=tmp_path / "missing"))).get("/")
    assert answer.status_code == 404
    assert "make web" in answer.json()["detail"]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The gateway's OpenAPI document, built once for the module (building it is costly)."""
    return openapi_document()


def test_the_committed_openapi_document_is_the_gateways(document: dict[str, Any]) -> None:
    committed = (REPO / "web" / "openapi.json").read_text()
    assert committed == render(document), "stale web/openapi.json: run `make web-api` and commit"


#: Answers without a body (the status says it all), and bodies still relayed as plain
#: objects to the service that validates them (drawings: rewards, to be named there).
BODILESS = {
    "POST /v1/auth/forgot-password 202",
    "POST /v1/admin/drawings body",
    "PATCH /v1/admin/drawings/{drawing_id} body",
    "DELETE /v1/users/me 202",  # account erasure: its job document is not named yet
}


#: The routes of the web app's generated client (SPEC §5): accounts, competitions,
#: submissions, boards, notifications, reports and LRS clients.
WEB_APP_ROUTES = (
    "/v1/auth",
    "/v1/users/me",
    "/v1/competitions",
    "/v1/submissions",
    "/v1/join",
    "/v1/notifications",
    "/v1/reports",
    "/v1/admin/lrs-clients",
)


def test_every_body_and_answer_the_web_app_uses_has_a_named_model(
    document: dict[str, Any],
) -> None:
    unnamed = []
    for path, operations in document["paths"].items():
        if not path.startswith(WEB_APP_ROUTES):
            continue
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                where = f"{method.upper()} {path} body"
                if "$ref" not in str(media.get("schema", {})) and where not in BODILESS:
                    unnamed.append(where)
            for status, answer in operation["responses"].items():
                # 204 has no body; 206 is a byte range of a file; zips and CSV are files.
                if not status.startswith("2") or status in ("204", "206"):
                    continue
                schemas = [m.get("schema", {}) for m in answer.get("content", {}).values()]
                media = answer.get("content", {})
                streamed = any(
                    k.startswith(("text/", "application/octet", "application/zip")) for k in media
                )
                named = any("$ref" in str(s) for s in schemas)
                where = f"{method.upper()} {path} {status}"
                if not streamed and not named and where not in BODILESS:
                    unnamed.append(where)
    assert unnamed == []

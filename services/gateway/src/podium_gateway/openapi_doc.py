"""The gateway's OpenAPI document as served at `/openapi.json` and exported for the web app.

FastAPI's own document needs three corrections to describe what the gateway
answers (checked by the schemathesis run in `tests/security/test_openapi_fuzz.py`):

- problems: every public route may answer the statuses of `GATEWAY_PROBLEMS` as
  RFC 7807 documents (input hygiene, tokens, rate limits, relayed service answers);
- optional sign-in: routes that serve anonymous callers too declare the bearer
  scheme as optional (`security: [{}, {HTTPBearer: []}]`), not required;
- one operation id per operation: FastAPI names every method of a multi-method
  route (xAPI GET + HEAD) after one of them, picked from a set.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from podium_gateway.auth import optional_reader, optional_user, require_user

#: Statuses any public route of the gateway may answer with a problem document:
#: 400 bad input (NUL, cursors, bounds), 401/403 credentials and rights, 404 and 409
#: from the service that owns the resource, 413 body limits, 429 rate limits,
#: 503 a dependency down. 422 and 500 are documented for every service already.
GATEWAY_PROBLEMS = (400, 401, 403, 404, 409, 413, 429, 503)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def optional_sign_in(app: FastAPI) -> set[tuple[str, str]]:
    """Return (path, method) of the operations that accept anonymous callers and bearers."""
    found: set[tuple[str, str]] = set()
    # Included routers keep their routes inside; each context is one route as mounted.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        calls = set(_calls(context.dependant))
        anonymous_too = optional_user in calls or optional_reader in calls
        if anonymous_too and require_user not in calls:
            found.update(
                (str(context.path_format), method.lower()) for method in route.methods or ()
            )
    return found


def unique_operation_ids(document: dict[str, Any]) -> dict[str, Any]:
    """Give each method of a multi-method route its own operation id."""
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    counts = Counter(op.get("operationId") for op in operations)
    for ops in document["paths"].values():
        for method, operation in ops.items():
            name = operation.get("operationId")
            if name and counts[name] > 1:
                stem = re.sub(r"_(get|head|post|put|patch|delete|options)$", "", name)
                operation["operationId"] = f"{stem}_{method}"
    return document


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) return the corrected document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        with warnings.catch_warnings():
            # FastAPI warns of the shared id of a GET-and-HEAD route; `unique_operation_ids`
            # below gives each method its own.
            warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
            document = build()  # caches it in `app.openapi_schema`; corrected in place
        for path, method in optional_sign_in(app):
            operation = document["paths"].get(path, {}).get(method)
            if operation is not None and operation.get("security"):
                # `{}` first: calling without credentials is valid (OpenAPI 3.1).
                operation["security"] = [{}, *operation["security"]]
        unique_operation_ids(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]

"""Write the gateway's OpenAPI document without starting anything (`make web-api`).

`create_api()` only builds the app; no broker, database or HTTP client is
touched until its lifespan runs, so the document can be produced offline.
The web app's typed client is generated from this file.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from typing import Any

from podium_gateway.app import create_api
from podium_gateway.config import Settings


def openapi_document() -> dict[str, Any]:
    """Return the gateway's OpenAPI document, with one operation id per operation."""
    return unique_operation_ids(create_api(Settings()).openapi())


def unique_operation_ids(document: dict[str, Any]) -> dict[str, Any]:
    """Give each method of a multi-method route its own operation id.

    FastAPI names every method of such a route after one of them, picked from a set
    (so it changes between processes); ids must be unique for generated clients.
    """
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    counts = Counter(op.get("operationId") for op in operations)
    for ops in document["paths"].values():
        for method, operation in ops.items():
            name = operation.get("operationId")
            if name and counts[name] > 1:
                stem = re.sub(r"_(get|head|post|put|patch|delete|options)$", "", name)
                operation["operationId"] = f"{stem}_{method}"
    return document


def render(document: dict[str, Any] | None = None) -> str:
    """Return the document (the gateway's by default) as the stable text of `web/openapi.json`."""
    text = json.dumps(document or openapi_document(), indent=2, sort_keys=True, ensure_ascii=False)
    return text + "\n"


def main() -> None:
    """Write the document to the path given, or to standard output."""
    text = render()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

"""Write the gateway's OpenAPI document without starting anything (`make web-api`).

`create_api()` only builds the app; no broker, database or HTTP client is
touched until its lifespan runs, so the document can be produced offline.
The web app's typed client is generated from this file.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from podium_gateway.app import create_api
from podium_gateway.config import Settings


def openapi_document() -> dict[str, Any]:
    """Return the gateway's OpenAPI document, as `/openapi.json` serves it."""
    return create_api(Settings()).openapi()


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

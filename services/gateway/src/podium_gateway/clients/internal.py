"""The one request of the internal `/internal/v1` APIs that act for a caller (SPEC §6).

Competitions and rewards apply object-level checks next to their data; the
gateway states who the caller is in `X-Podium-User-Id` / `X-Podium-User-Role`.
Their clients share this request: drop empty query values, send JSON, name the
caller, and answer 503 when the service cannot be reached (through `call()`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from podium_gateway.auth import CurrentUser
from podium_gateway.clients import call


def caller_headers(user: CurrentUser | None) -> dict[str, str]:
    """Return the headers naming the caller (none for an anonymous visitor)."""
    if user is None:
        return {}
    return {"X-Podium-User-Id": str(user.user_id), "X-Podium-User-Role": user.role}


class InternalClient:
    """A service's `/internal/v1` API over the gateway's shared HTTP client."""

    #: The service's name, as the 503 problem names it.
    service: ClassVar[str]

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/internal/v1"

    async def request(
        self,
        method: str,
        path: str,
        user: CurrentUser | None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one internal request as `user`; 503 when the service cannot be reached."""
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if json is not None:
            kwargs["json"] = json
        return await call(
            self.http,
            method,
            self.base + path,
            service=self.service,
            headers={**caller_headers(user), **(headers or {})},
            **kwargs,
        )

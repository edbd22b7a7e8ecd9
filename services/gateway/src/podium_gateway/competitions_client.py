"""Calls from the gateway to the competitions service's internal API (SPEC §6).

The gateway states who the caller is in `X-Podium-User-Id` / `X-Podium-User-Role`;
the competitions service applies object-level checks next to its data. The
helpers below read a competition document as that API returns it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from podium_gateway.auth import CurrentUser
from podium_gateway.clients import Relayed, call

SERVICE = "competitions"


def parse_time(value: str) -> datetime:
    """Read an RFC 3339 instant of a competition document (`Z` or an offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def is_sponsor(competition: dict[str, Any], user: CurrentUser | None) -> bool:
    """Tell whether `user` is the competition's owner or an admin."""
    if user is None:
        return False
    return user.is_admin or str(competition.get("owner_id")) == str(user.user_id)


def has_ended(competition: dict[str, Any], now: datetime) -> bool:
    """Tell whether the competition is over: ended by status or past `ends_at`."""
    return competition.get("status") == "ended" or parse_time(competition["ends_at"]) <= now


def caller_headers(user: CurrentUser | None) -> dict[str, str]:
    """Return the headers naming the caller (none for an anonymous visitor)."""
    if user is None:
        return {}
    return {"X-Podium-User-Id": str(user.user_id), "X-Podium-User-Role": user.role}


class CompetitionsClient:
    """The competitions internal API, over the gateway's shared HTTP client."""

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
            service=SERVICE,
            headers=caller_headers(user),
            **kwargs,
        )

    async def join_target(
        self, competition_id: uuid.UUID | None = None, invite_code: str | None = None
    ) -> httpx.Response:
        """Resolve a join's competition by id or invite code (200 or a 404 problem)."""
        return await self.request(
            "GET",
            "/join-targets",
            None,
            params={
                "competition_id": str(competition_id) if competition_id else None,
                "invite_code": invite_code,
            },
        )

    async def enrollment(self, competition_id: uuid.UUID, user: CurrentUser) -> httpx.Response:
        """Return the caller's enrollment as the competitions service knows it."""
        return await self.request("GET", f"/competitions/{competition_id}/enrollment", user)

    async def competition(
        self, competition_id: uuid.UUID, user: CurrentUser | None
    ) -> dict[str, Any]:
        """Return the competition as `user` sees it; its problems (404, ...) raise `Relayed`."""
        got = await self.request("GET", f"/competitions/{competition_id}", user)
        if got.status_code != 200:
            raise Relayed(got)
        return got.json()  # type: ignore[no-any-return]

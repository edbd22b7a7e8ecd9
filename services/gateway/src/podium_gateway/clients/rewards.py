"""The rewards client: the rewards service's internal API (SPEC §6, §10.4).

The caller travels in `X-Podium-User-Id` / `X-Podium-User-Role`; rewards
applies the object-level checks (my wallet, my prizes, a sponsor's drawings).
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import Depends

from podium_gateway.auth import CurrentUser
from podium_gateway.clients import HttpDep, SettingsDep, call
from podium_gateway.clients.competitions import caller_headers

SERVICE = "rewards"


class RewardsClient:
    """The rewards internal API, over the gateway's shared HTTP client."""

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
        """Send one internal request as `user`; 503 when rewards cannot be reached."""
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
            headers={**caller_headers(user), **(headers or {})},
            **kwargs,
        )


def rewards_client(http: HttpDep, settings: SettingsDep) -> RewardsClient:
    """Return the rewards client over the shared HTTP client."""
    return RewardsClient(http, settings.rewards_url)


RewardsDep = Annotated[RewardsClient, Depends(rewards_client)]

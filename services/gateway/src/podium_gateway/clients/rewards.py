"""The rewards client: the rewards service's internal API (SPEC §6, §10.4).

The caller travels in `X-Podium-User-Id` / `X-Podium-User-Role`; rewards
applies the object-level checks (my wallet, my prizes, a sponsor's drawings).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from podium_gateway.clients import HttpDep, SettingsDep
from podium_gateway.clients.internal import InternalClient

SERVICE = "rewards"


class RewardsClient(InternalClient):
    """The rewards internal API, over the gateway's shared HTTP client."""

    service = SERVICE


async def rewards_client(http: HttpDep, settings: SettingsDep) -> RewardsClient:
    """Return the rewards client over the shared HTTP client."""
    return RewardsClient(http, settings.rewards_url)


RewardsDep = Annotated[RewardsClient, Depends(rewards_client)]

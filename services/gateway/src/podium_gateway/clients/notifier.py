"""The notifier client: the caller's inbox and preferences from the notifier's internal API.

Every call is scoped to one user id the gateway authenticated (SPEC §6, §8).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import Depends

from podium_gateway.clients import HttpDep, SettingsDep, call

SERVICE = "notifier"


class NotifierClient:
    """The notifier internal API, over the gateway's shared HTTP client."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/internal/users"

    async def notifications(self, user_id: uuid.UUID, **params: Any) -> httpx.Response:
        """Return a page of the user's inbox (`unread`, `limit`, `cursor` or `after`)."""
        sent = {k: v for k, v in params.items() if v is not None}
        return await call(
            self.http, "GET", f"{self.base}/{user_id}/notifications", service=SERVICE, params=sent
        )

    async def mark_read(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> httpx.Response:
        """Mark one of the user's notifications read (404 for anyone else's)."""
        url = f"{self.base}/{user_id}/notifications/{notification_id}/read"
        return await call(self.http, "POST", url, service=SERVICE)

    async def preferences(self, user_id: uuid.UUID) -> httpx.Response:
        """Return the user's preference matrix."""
        return await call(self.http, "GET", f"{self.base}/{user_id}/preferences", service=SERVICE)

    async def change_preferences(
        self, user_id: uuid.UUID, preferences: dict[str, Any]
    ) -> httpx.Response:
        """Change some of the user's preferences; the answer is the whole matrix."""
        return await call(
            self.http,
            "PUT",
            f"{self.base}/{user_id}/preferences",
            service=SERVICE,
            json={"preferences": preferences},
        )


async def notifier_client(http: HttpDep, settings: SettingsDep) -> NotifierClient:
    """Return the notifier client over the shared HTTP client."""
    return NotifierClient(http, settings.notifier_url)


NotifierDep = Annotated[NotifierClient, Depends(notifier_client)]

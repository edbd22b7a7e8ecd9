"""Helpers shared by the notifier integration tests: a running notifier and what it sent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from podium_contracts import Event
from podium_contracts.events import UserData, UserRegistered
from podium_notifier.app import NotifierService
from podium_notifier.config import Settings
from podium_notifier.devsink import DevMailSink
from podium_notifier.repositories import projections
from podium_runtime.outbox import new_event
from podium_runtime.testing import eventually

BOUNCING_DOMAIN = "@bounce.invalid"


def new_user(timezone: str = "UTC") -> UserData:
    """Return the facts of a user nobody has announced yet."""
    return UserData(
        user_id=uuid.uuid4(),
        email=f"u{uuid.uuid4().hex[:10]}@example.org",
        display_name="Ada Tester",
        timezone=timezone,
    )


@dataclass
class Running:
    """A started notifier: its parts, its URL and the SMTP sink it sends to."""

    service: NotifierService
    url: str
    http: httpx.AsyncClient
    sink: DevMailSink
    settings: Settings

    async def publish(self, *events: Event) -> None:
        """Put events on the broker as their producers would."""
        await self.service.runtime.publisher.publish(*events)

    async def inbox(self, user_id: uuid.UUID, **params: Any) -> dict[str, Any]:
        """Read a user's inbox through the internal API."""
        response = await self.http.get(f"/internal/users/{user_id}/notifications", params=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def mails_to(self, address: str) -> list[dict[str, Any]]:
        """Return the mails the sink received for `address`."""
        return [m for m in self.sink.mails() if address.lower() in m["envelope_to"]]

    async def wait_mails(self, address: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait until `count` mails arrived for `address`."""

        async def arrived() -> list[dict[str, Any]] | None:
            mails = self.mails_to(address)
            return mails if len(mails) >= count else None

        return await eventually(arrived, timeout=20, message=f"{count} mail(s) to {address}")

    async def register(self, timezone: str = "UTC") -> UserData:
        """Publish `user.registered` for a new user and wait until the notifier knows them."""
        user = new_user(timezone)
        await self.publish(new_event(UserRegistered, "identity", user))

        async def known() -> bool:
            async with self.service.runtime.db.session() as session:
                return await projections.get_user(session, user.user_id) is not None

        await eventually(known, message="user projected")
        return user

"""Test helpers: drive the competitions service as the gateway and identity would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from podium_contracts.events import JoinData, JoinRequested, UserData, UserRegistered
from podium_contracts.topics import COMPETITIONS, ENROLLMENTS
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import eventually


class EventLog:
    """Every event seen on the competitions and enrollments topics since the module started."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    @staticmethod
    def topics(settings: ServiceSettings) -> list[str]:
        """Return the full names of the topics the log follows."""
        return [settings.kafka_topic_prefix + t.name for t in (COMPETITIONS, ENROLLMENTS)]

    def add(self, record: Any) -> None:
        """Keep one record's event."""
        self.events.append(json.loads(record.value))

    def of(self, event_type: str, **data: Any) -> list[dict[str, Any]]:
        """Return the events of `event_type` whose data carries all of `data` (as strings)."""
        return [
            ev
            for ev in self.events
            if ev["type"] == event_type
            and all(str(ev["data"].get(k)) == str(v) for k, v in data.items())
        ]


class Harness:
    """Drives the service like the gateway does: internal HTTP plus join events."""

    def __init__(self, http: httpx.AsyncClient, producer: ServiceRuntime, log: EventLog) -> None:
        self.http = http
        self.producer = producer
        self.log = log

    @staticmethod
    def as_user(user_id: uuid.UUID | None, role: str = "user") -> dict[str, str]:
        """Return the identity headers the gateway adds."""
        if user_id is None:
            return {}
        return {"X-Podium-User-Id": str(user_id), "X-Podium-User-Role": role}

    async def create(self, owner: uuid.UUID, **fields: Any) -> dict[str, Any]:
        """Create a competition (active, starting tomorrow by default) and return it."""
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "kind": "prediction",
            "metric": "auc_roc",
            "title": f"Competition {uuid.uuid4().hex[:6]}",
            "status": "active",
            "starts_at": (now + timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
        }
        body.update(fields)
        response = await self.http.post(
            "/internal/v1/competitions", json=body, headers=self.as_user(owner)
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def request_join(
        self, competition_id: str, user_id: uuid.UUID, invite_code: str | None = None
    ) -> uuid.UUID:
        """Publish `join.requested` as the gateway does; return the request id."""
        request_id = uuid.uuid4()
        event = new_event(
            JoinRequested,
            "gateway",
            JoinData(
                request_id=request_id,
                competition_id=uuid.UUID(competition_id),
                user_id=user_id,
                invite_code=invite_code,
            ),
        )
        await self.producer.publisher.publish(event)
        return request_id

    async def decision(
        self, competition_id: str, user_id: uuid.UUID, request_id: uuid.UUID
    ) -> dict[str, Any]:
        """Await the enrollment row answering `request_id`."""

        async def answered() -> dict[str, Any] | None:
            response = await self.http.get(
                f"/internal/v1/competitions/{competition_id}/enrollment",
                headers=self.as_user(user_id),
            )
            if response.status_code == 200 and response.json()["request_id"] == str(request_id):
                return response.json()  # type: ignore[no-any-return]
            return None

        return await eventually(answered, timeout=20, message="join decided")

    async def join(
        self, competition_id: str, user_id: uuid.UUID, invite_code: str | None = None
    ) -> dict[str, Any]:
        """Request a join and await its decision."""
        request_id = await self.request_join(competition_id, user_id, invite_code)
        return await self.decision(competition_id, user_id, request_id)

    async def register_user(self, display_name: str) -> uuid.UUID:
        """Publish `user.registered` as identity does; return the new user id."""
        user_id = uuid.uuid4()
        await self.producer.publisher.publish(
            new_event(
                UserRegistered,
                "identity",
                UserData(
                    user_id=user_id,
                    email=f"{user_id.hex[:8]}@example.org",
                    display_name=display_name,
                    timezone="Europe/Paris",
                ),
            )
        )
        return user_id

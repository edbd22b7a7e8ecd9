"""The ingest client: learning reports from ingest's internal API (SPEC §5.5, §6).

(The xAPI statement and document stores: `podium_gateway.clients.statements`.)
A report ingest cannot make comes back as a problem with ingest's own code;
an unreachable or failing ingest is `503 SERVICE_UNAVAILABLE`.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import httpx
from fastapi import Depends
from podium_runtime.problems import Problem

from podium_gateway.clients import HttpDep, SettingsDep, call

SERVICE = "ingest"


class IngestClient:
    """Ingest's report API, over the gateway's shared HTTP client."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/internal/reports"

    async def daily_goal(
        self,
        competition_id: uuid.UUID,
        day: date,
        *,
        completed: bool,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        """Return one page of participants by whether they completed `day`'s lesson."""
        params: dict[str, Any] = {
            "date": day.isoformat(),
            "completed": str(completed).lower(),
            "limit": limit,
        }
        if cursor:
            params["cursor"] = cursor
        return await self._report(f"/competitions/{competition_id}/daily-goal", params)

    async def learner_activity(self, user_id: uuid.UUID, since: date | None) -> dict[str, Any]:
        """Return a learner's statements per local day."""
        params = {"since": since.isoformat() + "T00:00:00Z"} if since else {}
        return await self._report(f"/learners/{user_id}/activity", params)

    async def _report(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = await call(self.http, "GET", self.base + path, service=SERVICE, params=params)
        if response.status_code >= 500:
            raise Problem(503, "SERVICE_UNAVAILABLE", "Reports are unavailable; try again shortly.")
        body: dict[str, Any] = response.json()
        if response.status_code != 200:
            raise Problem(
                response.status_code,
                body.get("code", "REPORT_FAILED"),
                body.get("detail", "The report could not be made."),
            )
        return body


async def ingest_client(http: HttpDep, settings: SettingsDep) -> IngestClient:
    """Return the ingest client over the shared HTTP client."""
    return IngestClient(http, settings.ingest_url)


IngestDep = Annotated[IngestClient, Depends(ingest_client)]

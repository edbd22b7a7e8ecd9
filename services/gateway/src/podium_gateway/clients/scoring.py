"""The scoring client: calls to the scoring service's internal read API (SPEC §6).

Scoring answers facts about submissions; the gateway decides what the caller
may see (authors, the competition's owner, private scores after the end).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends
from podium_runtime.problems import Problem

from podium_gateway.clients import HttpDep, SettingsDep, call

SERVICE = "scoring"


class ScoringClient:
    """The scoring internal API, over the gateway's shared HTTP client."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/internal"

    async def submission(self, submission_id: uuid.UUID) -> httpx.Response:
        """Return one submission (200) or a 404 problem while scoring does not know it."""
        return await call(
            self.http, "GET", f"{self.base}/submissions/{submission_id}", service=SERVICE
        )

    async def submissions(
        self,
        competition_id: uuid.UUID,
        *,
        user_id: uuid.UUID | None,
        limit: int,
        cursor: str | None,
    ) -> httpx.Response:
        """Return one page of a competition's submissions, one user's with `user_id`."""
        params: dict[str, str | int] = {"limit": limit}
        if user_id is not None:
            params["user_id"] = str(user_id)
        if cursor:
            params["cursor"] = cursor
        return await call(
            self.http,
            "GET",
            f"{self.base}/competitions/{competition_id}/submissions",
            service=SERVICE,
            params=params,
        )

    @contextlib.asynccontextmanager
    async def submissions_export(self, competition_id: uuid.UUID) -> AsyncIterator[httpx.Response]:
        """Open scoring's streamed export of a competition's submissions (JSON lines)."""
        url = f"{self.base}/competitions/{competition_id}/submissions/export"
        try:
            async with self.http.stream("GET", url) as answer:
                answer.raise_for_status()
                yield answer
        except httpx.TransportError as exc:
            raise Problem(503, "SERVICE_UNAVAILABLE", "scoring cannot be reached") from exc

    async def answer_key(self, competition_id: uuid.UUID) -> httpx.Response:
        """Return the state of a competition's answer key (ready, invalid, or 404)."""
        return await call(
            self.http,
            "GET",
            f"{self.base}/competitions/{competition_id}/answer-key",
            service=SERVICE,
        )


async def scoring_client(http: HttpDep, settings: SettingsDep) -> ScoringClient:
    """Return the scoring client over the shared HTTP client."""
    return ScoringClient(http, settings.scoring_url)


ScoringDep = Annotated[ScoringClient, Depends(scoring_client)]

"""Reads from ingest's internal API, the only statement store (SPEC §6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from podium_runtime.problems import Problem

from podium_gateway.clients import call


class StatementStore:
    """Client of ingest's `/internal/statements` endpoints."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await call(
            self.http, method, f"{self.base_url}{path}", service="ingest", **kwargs
        )
        if response.status_code >= 500:
            raise Problem(503, "SERVICE_UNAVAILABLE", "The statement store is unavailable.")
        return response

    async def lookup(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the stored statements among `ids` (voided or not)."""
        if not ids:
            return {}
        response = await self._call("POST", "/internal/statements/lookup", json={"ids": list(ids)})
        found: dict[str, dict[str, Any]] = response.json()["statements"]
        return found

    async def get(self, statement_id: str, *, voided: bool) -> dict[str, Any] | None:
        """Return one statement, or None (xAPI Comm. 2.1.3 voided rules applied by ingest)."""
        response = await self._call(
            "GET",
            f"/internal/statements/{statement_id}",
            params={"voided": "true" if voided else "false"},
        )
        if response.status_code == 404:
            return None
        statement: dict[str, Any] = response.json()
        return statement

    async def query(self, params: dict[str, str]) -> dict[str, Any]:
        """Return `{statements, cursor, consistent_through}` for the filters in `params`."""
        response = await self._call("GET", "/internal/statements", params=params)
        if response.status_code == 400:
            raise Problem(400, "INVALID_QUERY", response.json().get("detail", "invalid query"))
        page: dict[str, Any] = response.json()
        return page

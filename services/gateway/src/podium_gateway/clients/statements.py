"""Ingest's internal statement and document APIs, the only xAPI store (SPEC §5.4, §6).

The xAPI resources reach ingest only through these two clients; the URL of
ingest is read here, from the app's settings, and nowhere else in `xapi/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import Request
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

    async def consistent_through(self) -> str | None:
        """Return ingest's consistent-through instant, or None when ingest cannot say."""
        try:
            response = await self._call("GET", "/internal/consistency")
        except Problem:
            return None
        value: str = response.json()["consistent_through"]
        return value

    async def erase(self, agent_key: str) -> dict[str, Any]:
        """Erase a learner's statements and documents; return what ingest erased."""
        response = await call(
            self.http,
            "POST",
            f"{self.base_url}/internal/erasures",
            service="ingest",
            json={"agent_key": agent_key},
        )
        if response.status_code != 200:
            raise Problem(503, "SERVICE_UNAVAILABLE", "The learning record store is unavailable.")
        erased: dict[str, Any] = response.json()
        return erased

    async def query(self, params: dict[str, str]) -> dict[str, Any]:
        """Return `{statements, cursor, consistent_through}` for the filters in `params`."""
        response = await self._call("GET", "/internal/statements", params=params)
        if response.status_code == 400:
            raise Problem(400, "INVALID_QUERY", response.json().get("detail", "invalid query"))
        page: dict[str, Any] = response.json()
        return page


class DocumentStore:
    """Client of ingest's internal document API."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def send(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Call ingest; map its problems to ours and its failures to 503."""
        response = await call(
            self.http,
            method,
            f"{self.base_url}{path}",
            service="ingest",
            params=params,
            headers=headers,
            content=content,
        )
        if response.status_code >= 500:
            raise Problem(503, "SERVICE_UNAVAILABLE", "The document store is unavailable.")
        if response.status_code >= 400 and response.status_code != 404:
            body = response.json()
            raise Problem(response.status_code, body.get("code", "ERROR"), body.get("detail", ""))
        return response


def statement_store(request: Request) -> StatementStore:
    """Return the statement store over the app's shared HTTP client."""
    state = request.app.state
    return StatementStore(state.http, state.settings.ingest_url)


def document_store(request: Request) -> DocumentStore:
    """Return the document store over the app's shared HTTP client."""
    state = request.app.state
    return DocumentStore(state.http, state.settings.ingest_url)

"""Reads from ingest's internal API, the only statement store (SPEC §6)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
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


Lookup = Callable[[Sequence[str]], Awaitable[dict[str, dict[str, Any]]]]


class CoalescedLookup:
    """Merges the conflict lookups of concurrent requests into one call to ingest.

    Every POST with client-chosen ids asks the store whether those ids exist
    (docs/adr/0004). The first caller is sent at once; callers arriving while a
    call is in flight wait for the next one, which carries all their ids. So the
    store sees one call per round trip instead of one per request, and an idle
    gateway adds no delay.
    """

    def __init__(self, lookup: Lookup, max_ids: int = 1000) -> None:
        self._lookup = lookup
        self.max_ids = max_ids
        self._waiting: list[tuple[list[str], asyncio.Future[dict[str, dict[str, Any]]]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def lookup(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the stored statements among `ids` (voided or not)."""
        if not ids:
            return {}
        future: asyncio.Future[dict[str, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append((list(ids), future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        # The shared call must not be cancelled with one of its callers.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._waiting:
            batch, taken = [], 0
            while self._waiting and (not batch or taken + len(self._waiting[0][0]) <= self.max_ids):
                ids, future = self._waiting.pop(0)
                batch.append((ids, future))
                taken += len(ids)
            wanted = sorted({i for ids, _ in batch for i in ids})
            try:
                found = await self._lookup(wanted)
            except asyncio.CancelledError:
                for _, future in batch + self._waiting:
                    future.cancel()
                raise
            except Exception as exc:  # every caller of this round sees the store's failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for ids, future in batch:
                if not future.done():
                    future.set_result({i: found[i] for i in ids if i in found})

    async def close(self) -> None:
        """Stop the runner (tests and shutdown)."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner

"""Data tools for administrators (SPEC §10.5, seed 001 §a.05-a.07b, seed 004 CP6).

The gateway gathers what each service reports about itself under
`/internal/ops` (`podium_runtime.operations`): consumer freshness, row counts,
prebuilt read-only queries, retention; plus ingest's raw statements and the
notifier's reminder preview. A service that does not answer is reported as
such rather than failing the whole answer.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import Response
from podium_runtime.problems import Problem
from podium_runtime.problems import problem_responses as problems
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import AdminDep
from podium_gateway.clients import HttpDep, Relayed, SettingsDep, call, relay
from podium_gateway.clients.audit import AuditorDep
from podium_gateway.clients.services import service_url, service_urls
from podium_gateway.config import Settings

router = APIRouter(tags=["admin"])

#: Services that consume events (identity does not).
CONSUMERS = ("competitions", "scoring", "ingest", "notifier")
SERVICES = ("identity", *CONSUMERS)


class ServiceReport(BaseModel):
    """One service's answer, or why there is none."""

    service: str
    report: Any | None = None
    error: str | None = None


class ServiceReports(BaseModel):
    """Every service's answer."""

    items: list[ServiceReport]


async def _gather(
    http: httpx.AsyncClient,
    settings: Settings,
    services: tuple[str, ...],
    method: str,
    path: str,
    json: dict[str, Any] | None = None,
) -> ServiceReports:
    urls = service_urls(settings)

    async def one(service: str) -> ServiceReport:
        try:
            answer = await call(http, method, urls[service] + path, service=service, json=json)
        except Problem as problem:
            return ServiceReport(service=service, error=problem.detail)
        if answer.status_code != 200:
            return ServiceReport(service=service, error=f"answered {answer.status_code}")
        return ServiceReport(service=service, report=answer.json())

    return ServiceReports(items=list(await asyncio.gather(*(one(s) for s in services))))


@router.get(
    "/v1/admin/etl",
    summary="Consumer freshness of every service",
    response_model=ServiceReports,
    responses=problems(401, 403),
)
async def etl(admin: AdminDep, http: HttpDep, settings: SettingsDep) -> ServiceReports:
    """Per consumer group: last event applied and when, events in the last hour, lag per
    topic; ingest adds the last stored statement."""
    return await _gather(http, settings, CONSUMERS, "GET", "/internal/ops/etl")


@router.get(
    "/v1/admin/summary",
    summary="Row counts of every service",
    response_model=ServiceReports,
    responses=problems(401, 403),
)
async def summary(admin: AdminDep, http: HttpDep, settings: SettingsDep) -> ServiceReports:
    """Rows per table, per service."""
    return await _gather(http, settings, SERVICES, "GET", "/internal/ops/summary")


class QueryEntry(BaseModel):
    """A prebuilt query: run it with `POST /v1/admin/queries/{name}`."""

    name: str = Field(examples=["ingest.statements_per_verb_per_day"])
    service: str
    description: str
    parameters: dict[str, dict[str, Any]]


class QueryCatalogue(BaseModel):
    """Every service's prebuilt queries."""

    items: list[QueryEntry]


class QueryRun(BaseModel):
    """Parameters of a prebuilt query. Queries are chosen by name only: no SQL is accepted."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"params": {"since": "2026-01-01"}}]}
    )

    params: dict[str, Any] = Field(default_factory=dict)


class QueryResultDocument(BaseModel):
    """Columns and rows (at most 1000; `truncated` if there were more)."""

    name: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


@router.get(
    "/v1/admin/queries",
    summary="The catalogue of prebuilt read-only queries",
    response_model=QueryCatalogue,
    responses=problems(401, 403),
)
async def list_queries(admin: AdminDep, http: HttpDep, settings: SettingsDep) -> QueryCatalogue:
    """Named, parameterised queries per service; there is no free-form SQL."""
    reports = await _gather(http, settings, SERVICES, "GET", "/internal/ops/queries")
    items = [
        QueryEntry(service=r.service, **{**q, "name": f"{r.service}.{q['name']}"})
        for r in reports.items
        for q in r.report or []
    ]
    return QueryCatalogue(items=items)


@router.post(
    "/v1/admin/queries/{name}",
    summary="Run a prebuilt query",
    response_model=QueryResultDocument,
    responses=problems(401, 403, 404, 422, 503),
)
async def run_query(
    name: str, body: QueryRun, admin: AdminDep, http: HttpDep, settings: SettingsDep
) -> Response:
    """Run `service.query` in a read-only transaction with a statement timeout (503
    `QUERY_TIMEOUT` when it takes too long); 404 `UNKNOWN_QUERY` for any other name."""
    service, _, query = name.partition(".")
    if service not in SERVICES or not query:
        raise Problem(404, "UNKNOWN_QUERY", f"No prebuilt query is called {name!r}.")
    url = f"{service_urls(settings)[service]}/internal/ops/queries/{query}"
    answer = await call(http, "POST", url, service=service, json=body.model_dump())
    return relay(answer)


class RetentionRequest(BaseModel):
    """Ages for this run; the services' configured ages otherwise."""

    model_config = ConfigDict(extra="forbid")

    outbox_sent_days: float | None = Field(default=None, ge=0)
    inbox_days: float | None = Field(default=None, ge=0)


@router.post(
    "/v1/admin/retention",
    summary="Purge sent outbox rows and old inbox ids now",
    response_model=ServiceReports,
    responses=problems(401, 403, 422),
)
async def retention(
    body: RetentionRequest,
    admin: AdminDep,
    http: HttpDep,
    settings: SettingsDep,
    auditor: AuditorDep,
) -> ServiceReports:
    """Every service purges what is older than the ages; the job also runs on its own
    every `retention_interval_seconds`. Audited."""
    requested = body.model_dump(exclude_none=True)
    reports = await _gather(http, settings, SERVICES, "POST", "/internal/ops/retention", requested)
    purged = {r.service: r.report for r in reports.items if r.report}
    await auditor(admin, "retention.run", "retention", "all", before=requested, after=purged)
    return reports


@router.get(
    "/v1/admin/statements/{statement_id}",
    summary="A raw stored statement by id (voided ones included)",
    responses=problems(401, 403, 404, 503),
)
async def raw_statement(
    statement_id: uuid.UUID, admin: AdminDep, http: HttpDep, settings: SettingsDep
) -> Response:
    """The statement exactly as stored by the LRS, voided or not."""
    url = f"{service_url(settings, 'ingest')}/internal/statements/{statement_id}"
    answer = await call(http, "GET", url, service="ingest")
    if answer.status_code == 404:
        # Ingest answers voided statements only when asked for them (xAPI Comm. 2.1.3).
        answer = await call(http, "GET", url, service="ingest", params={"voided": "true"})
    return relay(answer)


@router.get(
    "/v1/admin/reminders/preview",
    summary="The daily reminders that would go out today",
    responses=problems(401, 403, 503),
)
async def reminders_preview(admin: AdminDep, http: HttpDep, settings: SettingsDep) -> Response:
    """Participants whose daily goal is still open on their local today; nothing is sent."""
    url = f"{service_url(settings, 'notifier')}/internal/reminders/preview"
    return relay(await call(http, "GET", url, service="notifier"))


@router.get(
    "/v1/admin/integrity",
    summary="Cross-projection integrity checks",
    responses=problems(401, 403, 503),
)
async def integrity(
    admin: AdminDep,
    http: HttpDep,
    settings: SettingsDep,
    auditor: AuditorDep,
    repair: bool = False,
) -> dict[str, Any]:
    """Boards whose Redis mirror differs from Postgres (`repair=true` ranks them again,
    audited), and accepted participants that competitions and the notifier count differently
    (repair: replay the enrollments' dead letters, or a notifier rebuild)."""
    boards = await call(
        http,
        "GET",
        f"{service_url(settings, 'competitions')}/internal/v1/integrity",
        service="competitions",
        params={"repair": "true" if repair else "false"},
    )
    if boards.status_code != 200:
        raise Relayed(boards)
    checks: list[dict[str, Any]] = boards.json()
    checks.append(await _enrollments_check(http, settings))
    if repair and any(c.get("repaired") for c in checks):
        repaired = {c["name"]: c["repaired"] for c in checks if c.get("repaired")}
        await auditor(admin, "integrity.repaired", "integrity", "all", after=repaired)
    return {"checks": checks}


async def _enrollments_check(http: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    """Compare accepted participants per competition: competitions vs the notifier."""
    urls = service_urls(settings)

    async def counts(service: str, query: str) -> dict[str, int] | None:
        try:
            answer = await call(
                http,
                "POST",
                f"{urls[service]}/internal/ops/queries/{query}",
                service=service,
                json={"params": {}},
            )
        except Problem:
            return None
        if answer.status_code != 200:
            return None
        return {str(row[0]): int(row[1]) for row in answer.json()["rows"]}

    known = await counts("competitions", "accepted_participants")
    notified = await counts("notifier", "active_participants")
    if known is None or notified is None:
        return {
            "name": "enrollments_in_notifier",
            "ok": False,
            "problems": [],
            "error": "unreachable",
        }
    problems = [
        {"competition_id": cid, "competitions": n, "notifier": notified.get(cid, 0)}
        for cid, n in sorted(known.items())
        if notified.get(cid, 0) != n
    ]
    return {"name": "enrollments_in_notifier", "ok": not problems, "problems": problems}

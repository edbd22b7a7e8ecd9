"""Factories of the gateway service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI
from podium_runtime import service_credentials
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.script_line import ScriptLine, Scripts
from starlette.middleware import Middleware

from podium_gateway import (
    admin_api,
    auth,
    auth_api,
    board_stream,
    competitions_api,
    data_api,
    datasets_api,
    joins,
    leaderboard_api,
    limits,
    lrs_clients_api,
    lrs_trust_api,
    notifications_api,
    operations_api,
    personal_export_api,
    profile_api,
    profile_read,
    read_model,
    reports_api,
    rewards_api,
    sample_api,
    sponsor_api,
    sponsor_operations_api,
    stream_api,
    submissions_api,
    teams_api,
)
from podium_gateway.auth import JwksCache
from podium_gateway.clients import Relayed, answer_relayed
from podium_gateway.clients.identity import jwks_url
from podium_gateway.clients.transport import InternalTransport
from podium_gateway.config import Settings
from podium_gateway.edge_reads import EdgeReads
from podium_gateway.openapi_doc import GATEWAY_PROBLEMS, install_openapi
from podium_gateway.security import edge_layer
from podium_gateway.web_app import default_web_root, mount_web
from podium_gateway.xapi import admin as xapi_admin
from podium_gateway.xapi import api as xapi_api
from podium_gateway.xapi import documents as xapi_documents
from podium_gateway.xapi.claims import CLAIM_SCRIPTS


def script_line(settings: Settings) -> ScriptLine:
    """Return the pipelined Redis connection for the edge's reads, joins, uploads and the
    xAPI rate limit and claims, loading every script they run on it (ADR 0070, 0101)."""
    return ScriptLine(
        settings.redis_url,
        [
            read_model.SNAPSHOT_SCRIPT,
            profile_read.PROFILE_SCRIPT,
            joins.ADMIT_SCRIPT,
            auth.GATE_SCRIPT,
            submissions_api.TAKE_SLOT_SCRIPT,
            limits.HITS_SCRIPT,
            *CLAIM_SCRIPTS,
        ],
    )


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles."""
    return ServiceRuntime(settings)


def routers() -> list[APIRouter]:
    """Return every public router of the gateway, in OpenAPI order."""
    return [
        auth_api.router,
        profile_api.router,
        lrs_clients_api.router,
        competitions_api.router,
        submissions_api.router,
        teams_api.router,
        sponsor_api.router,
        lrs_trust_api.router,
        sponsor_operations_api.router,
        datasets_api.router,
        sample_api.router,
        leaderboard_api.router,
        board_stream.router,
        notifications_api.router,
        stream_api.router,
        lrs_clients_api.xapi_about_router,
        xapi_api.router,
        xapi_documents.router,
        xapi_admin.router,
        reports_api.router,
        rewards_api.router,
        admin_api.router,
        operations_api.router,
        data_api.router,
        personal_export_api.router,
    ]


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker and the shared internal HTTP client."""
    runtime = create_runtime(settings)

    @asynccontextmanager
    async def internal_http(app: FastAPI) -> AsyncIterator[None]:
        # One pooled client for every internal call (SPEC §6), closed after the runtime stops.
        async with httpx.AsyncClient(
            # Every internal call carries a fresh service credential (ADR 0053).
            auth=service_credentials.auth_for(settings),
            timeout=settings.internal_timeout_seconds,
            # Pooled keep-alive connections the event loop watches (ADR 0107).
            transport=InternalTransport(max_connections=200, max_idle=50),
        ) as http:
            app.state.http = http
            app.state.jwks = JwksCache(
                http,
                jwks_url(settings),
                ttl_seconds=settings.jwks_cache_seconds,
                refetch_min_seconds=settings.jwks_refetch_min_seconds,
            )
            # The edge's reads, the commands' checks and the xAPI claims send their
            # scripts on a pipelined connection (ADR 0070, 0101).
            line = script_line(settings)
            app.state.scripts = Scripts(runtime.redis, line)
            try:
                yield
            finally:
                app.state.scripts = Scripts(runtime.redis)
                await line.aclose()
                # The live hubs (made on the first stream) hold a pub/sub connection each.
                for name in ("live_hub", "board_hub"):
                    hub = getattr(app.state, name, None)
                    if hub is not None:
                        await hub.aclose()

    app = runtime.create_app(
        title="Podium gateway",
        description=(
            "Public HTTP API of Podium: accounts, competitions, submissions, leaderboards, "
            "notifications, rewards (wallet, drawings, prizes) and an xAPI Learning Record "
            "Store. Errors are RFC 7807 `application/problem+json` documents with a stable "
            "`code`."
        ),
        routers=routers(),
        # One layer for the request's id, metrics, span and the edge's checks (ADR 0075).
        request_layer=edge_layer(settings),
        # The hottest anonymous reads are answered inside the edge, before routing (ADR 0070).
        middleware=[Middleware(EdgeReads)],
        extensions=[internal_http],
        # The gateway signs internal calls; it serves no internal API of its own.
        internal_api=False,
        problems=GATEWAY_PROBLEMS,
        # Swagger UI is served from local files by `web_app.docs_router()` (SPEC §10.1).
        docs_url=None,
        redoc_url=None,
    )
    mount_web(app, settings.web_root or default_web_root())
    install_openapi(app)

    app.add_exception_handler(Relayed, answer_relayed)
    app.state.settings = settings
    # Until the lifespan opens the script line, scripts go through redis-py.
    app.state.scripts = Scripts(runtime.redis)
    return app

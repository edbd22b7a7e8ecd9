"""xAPI credentials: admins manage LRS clients in identity; tools ask `/xapi/about` (SPEC §5.5).

Management routes are relayed to identity after the gateway checked the admin
role; `about` is answered here for any valid LRS client.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from podium_runtime.problems import problem_responses as problems
from pydantic import BaseModel, Field

from podium_gateway.account_schemas import LrsClientCreate, LrsClientCreated, LrsClientList
from podium_gateway.auth import AdminDep
from podium_gateway.clients.identity import IdentityDep
from podium_gateway.lrs_auth import authenticate_lrs_client

router = APIRouter()
xapi_about_router = APIRouter(tags=["xapi"])


@router.post(
    "/v1/admin/lrs-clients",
    tags=["admin"],
    status_code=201,
    summary="Create xAPI credentials",
    response_model=LrsClientCreated,
    responses=problems(401, 403, 422, 503),
)
async def create_lrs_client(
    body: LrsClientCreate, admin: AdminDep, identity: IdentityDep
) -> Response:
    """Create an LRS client; its key and secret are returned once, the secret is stored hashed."""
    return await identity.relay("POST", "/v1/admin/lrs-clients", body)


@router.get(
    "/v1/admin/lrs-clients",
    tags=["admin"],
    summary="List xAPI credentials",
    response_model=LrsClientList,
    responses=problems(401, 403, 503),
)
async def list_lrs_clients(
    admin: AdminDep, identity: IdentityDep, include_revoked: bool = False
) -> Response:
    """List LRS clients (secrets are never shown again)."""
    params = {"include_revoked": str(include_revoked).lower()}
    return await identity.relay("GET", "/v1/admin/lrs-clients", params=params)


@router.delete(
    "/v1/admin/lrs-clients/{client_id}",
    tags=["admin"],
    status_code=204,
    summary="Revoke xAPI credentials",
    response_class=Response,
    responses=problems(401, 403, 404, 503),
)
async def revoke_lrs_client(
    client_id: uuid.UUID, admin: AdminDep, identity: IdentityDep
) -> Response:
    """Revoke an LRS client; learning tools using it are refused within seconds."""
    return await identity.relay("DELETE", f"/v1/admin/lrs-clients/{client_id}")


class About(BaseModel):
    """xAPI `about` resource (Communication 2.8)."""

    version: list[str] = Field(examples=[["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]])
    extensions: dict[str, Any] = Field(default_factory=dict)


#: Every xAPI version the LRS speaks (X-Experience-API-Version negotiation, Comm. 3.3).
XAPI_VERSIONS = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]


@xapi_about_router.api_route(
    "/xapi/about",
    methods=["GET", "HEAD"],
    summary="xAPI versions this LRS speaks",
    response_model=About,
    responses=problems(401, 403, 429),
    # Credentials are optional here: they are only checked when sent.
    openapi_extra={"security": [{}, {"LrsBasic": []}]},
)
async def xapi_about(request: Request) -> JSONResponse:
    """Return the supported xAPI versions and extensions.

    Clients ask About before they know which version to speak, so it needs neither
    credentials nor the version header (xAPI Communication 2.8); credentials that
    are sent are still verified, so a tool can check them here.
    """
    if "authorization" in request.headers:
        await authenticate_lrs_client(request)
    requested = request.headers.get("X-Experience-API-Version", "")
    return JSONResponse(
        {
            "version": XAPI_VERSIONS,
            "extensions": {},
        },
        headers={"X-Experience-API-Version": "2.0.0" if requested == "2.0.0" else "1.0.3"},
    )

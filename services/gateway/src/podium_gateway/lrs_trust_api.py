"""LRS trust for activity points: which learning tools' statements count (ADR 0054, SPEC §10.5).

Any LRS client with `statements/write` may post statements naming any
learner, so an activity competition counts statements only from the LRS
clients its sponsor (or an admin) trusted for it. The sponsor manages the
list under the competition; `POST /v1/admin/lrs-clients/{id}/trust` is the
administrator's way to add one client. Competitions keeps the list and
applies it where points are awarded; every change is audited.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import AdminDep, CurrentUser, UserDep
from podium_gateway.clients import relay
from podium_gateway.clients.audit import Auditor, AuditorDep
from podium_gateway.clients.competitions import CompetitionsClient, CompetitionsDep

router = APIRouter(tags=["sponsor tools"])

#: Most LRS clients one competition may trust (competitions enforces the same bound).
MAX_TRUSTED_CLIENTS = 100


class TrustedLrsClients(BaseModel):
    """The LRS clients whose statements earn points in an activity competition."""

    lrs_client_ids: list[uuid.UUID] = Field(
        description="Ids of the LRS clients (`POST /v1/admin/lrs-clients`) that count."
    )
    any_lrs_client: bool = Field(
        description=(
            "True only for a competition created before LRS trust existed: statements "
            "from every client count until its sponsor names the trusted ones."
        )
    )


class TrustedLrsClientsBody(BaseModel):
    """Body of `PUT /v1/competitions/{id}/trusted-lrs-clients`: the whole list."""

    model_config = ConfigDict(extra="forbid")

    lrs_client_ids: list[uuid.UUID] = Field(max_length=MAX_TRUSTED_CLIENTS)


class TrustBody(BaseModel):
    """Body of `POST /v1/admin/lrs-clients/{id}/trust`."""

    model_config = ConfigDict(extra="forbid")

    competition_id: uuid.UUID


def _path(competition_id: uuid.UUID) -> str:
    return f"/competitions/{competition_id}/trusted-lrs-clients"


@router.get(
    "/v1/competitions/{competition_id}/trusted-lrs-clients",
    response_model=TrustedLrsClients,
    summary="The LRS clients whose statements count for this activity competition (owner)",
)
async def trusted_lrs_clients(
    competition_id: uuid.UUID, client: CompetitionsDep, user: UserDep
) -> Response:
    """403 `NOT_OWNER` for others; 409 `NOT_AN_ACTIVITY_COMPETITION` for prediction ones."""
    return relay(await client.request("GET", _path(competition_id), user))


async def _changed(
    client: CompetitionsClient,
    auditor: Auditor,
    user: CurrentUser,
    competition_id: uuid.UUID,
    method: str,
    path: str,
    json: object = None,
) -> Response:
    """Change the trust list in competitions; audit the change once it was made."""
    before = await client.request("GET", _path(competition_id), user)
    if before.status_code != 200:
        return relay(before)
    answer = await client.request(method, path, user, json=json)
    if answer.status_code == 200:
        await auditor.changed(
            user,
            "competition.lrs_trust_changed",
            "competition",
            competition_id,
            before.json(),
            answer.json(),
            ["lrs_client_ids", "any_lrs_client"],
        )
    return relay(answer)


@router.put(
    "/v1/competitions/{competition_id}/trusted-lrs-clients",
    response_model=TrustedLrsClients,
    summary="Trust exactly these LRS clients for this activity competition (owner)",
)
async def replace_trusted_lrs_clients(
    competition_id: uuid.UUID,
    body: TrustedLrsClientsBody,
    client: CompetitionsDep,
    auditor: AuditorDep,
    user: UserDep,
) -> Response:
    """From now on only statements these clients post earn points here; awarded points stay."""
    return await _changed(
        client,
        auditor,
        user,
        competition_id,
        "PUT",
        _path(competition_id),
        body.model_dump(mode="json"),
    )


@router.post(
    "/v1/admin/lrs-clients/{lrs_client_id}/trust",
    response_model=TrustedLrsClients,
    tags=["admin"],
    summary="Count this LRS client's statements for an activity competition (admin)",
)
async def trust_lrs_client(
    lrs_client_id: uuid.UUID,
    body: TrustBody,
    client: CompetitionsDep,
    auditor: AuditorDep,
    admin: AdminDep,
) -> Response:
    """Add the client to the competition's trusted ones; the answer is the whole list."""
    path = f"{_path(body.competition_id)}/{lrs_client_id}"
    return await _changed(client, auditor, admin, body.competition_id, "POST", path)

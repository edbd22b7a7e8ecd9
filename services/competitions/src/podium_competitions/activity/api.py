"""Internal API of activity competitions, called only by the gateway: boards and LRS trust."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from podium_runtime.deps import RuntimeDep, SessionDep
from pydantic import BaseModel, ConfigDict, Field

from podium_competitions.activity import service, trust
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.boards import BoardWriter
from podium_competitions.deps import CallerDep

router = APIRouter(prefix="/internal/v1", tags=["internal"])

#: Most LRS clients one competition may trust.
MAX_TRUSTED_CLIENTS = 100


@router.post("/activity-boards/rebuild")
async def rebuild(runtime: RuntimeDep) -> dict[str, int]:
    """Rewrite every activity board's Redis mirror from the points ledger (after a Redis loss)."""
    mirror = ActivityBoardMirror(BoardWriter(runtime.redis))
    async with runtime.db.session() as session:
        days = await service.rebuild(session, mirror)
    await mirror.writer.flush()  # answer once Redis holds the boards
    return {"days": days}


class TrustedLrsClients(BaseModel):
    """The LRS clients whose statements count for an activity competition (ADR 0054)."""

    lrs_client_ids: list[uuid.UUID]
    #: True for a competition created before trust existed, until its sponsor names clients.
    any_lrs_client: bool


class TrustedLrsClientsIn(BaseModel):
    """Body of `PUT .../trusted-lrs-clients`: the whole list; no other client counts."""

    model_config = ConfigDict(extra="forbid")

    lrs_client_ids: list[uuid.UUID] = Field(max_length=MAX_TRUSTED_CLIENTS)


def _answer(found: trust.Trust) -> TrustedLrsClients:
    return TrustedLrsClients(
        lrs_client_ids=found.lrs_client_ids, any_lrs_client=found.any_lrs_client
    )


@router.get("/competitions/{competition_id}/trusted-lrs-clients", response_model=TrustedLrsClients)
async def trusted_lrs_clients(
    competition_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> TrustedLrsClients:
    """The competition's trusted LRS clients (owner or admin)."""
    return _answer(await trust.trust(session, caller, competition_id))


@router.put("/competitions/{competition_id}/trusted-lrs-clients", response_model=TrustedLrsClients)
async def replace_trusted_lrs_clients(
    competition_id: uuid.UUID, body: TrustedLrsClientsIn, session: SessionDep, caller: CallerDep
) -> TrustedLrsClients:
    """Make these the only LRS clients whose statements count (owner or admin)."""
    return _answer(await trust.replace_trust(session, caller, competition_id, body.lrs_client_ids))


@router.post(
    "/competitions/{competition_id}/trusted-lrs-clients/{lrs_client_id}",
    response_model=TrustedLrsClients,
)
async def add_trusted_lrs_client(
    competition_id: uuid.UUID, lrs_client_id: uuid.UUID, session: SessionDep, caller: CallerDep
) -> TrustedLrsClients:
    """Trust one more LRS client for the competition (owner or admin)."""
    return _answer(await trust.add_trust(session, caller, competition_id, lrs_client_id))

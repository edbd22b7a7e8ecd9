"""Sponsor tools of the public API: announcements and removals (SPEC §10.2).

An announcement is a command: the gateway checks ownership and publishes
`competition.announcement_posted` (keyed by competition id); the notifier
tells every current participant once, in-app and by e-mail as each one's
preferences allow. Removing a participant is a synchronous call to the
competitions internal API. Every action is audited once accepted (ADR 0037).
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from podium_contracts.events import AnnouncementData, AnnouncementPosted
from podium_runtime.outbox import new_event
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import UserDep
from podium_gateway.clients import RuntimeDep, publish, relay
from podium_gateway.clients.audit import AuditorDep
from podium_gateway.clients.competitions import CompetitionsDep, require_sponsor

router = APIRouter(tags=["sponsor tools"])


class AnnouncementBody(BaseModel):
    """Body of `POST /v1/competitions/{id}/announcements`."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)


class AnnouncementAccepted(BaseModel):
    """The 202 answer: the notifier delivers the announcement asynchronously."""

    id: uuid.UUID
    competition_id: uuid.UUID
    status: Literal["queued"] = "queued"


@router.post(
    "/v1/competitions/{competition_id}/announcements",
    status_code=202,
    response_model=AnnouncementAccepted,
    summary="Announce something to every participant, in-app and by e-mail (owner)",
)
async def announce(
    competition_id: uuid.UUID,
    body: AnnouncementBody,
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    auditor: AuditorDep,
) -> Response:
    """Publish `competition.announcement_posted`; 202 once Kafka has it. Audited."""
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user, "announce")
    answer = AnnouncementAccepted(id=uuid.uuid4(), competition_id=competition_id)
    event = new_event(
        AnnouncementPosted,
        "gateway",
        AnnouncementData(
            competition_id=competition_id,
            announcement_id=answer.id,
            subject=body.subject,
            body=body.body,
            posted_by=user.user_id,
        ),
    )
    await publish(runtime, event, "announcement")
    await auditor(
        user, "competition.announcement_posted", "competition", competition_id,
        after={"announcement_id": str(answer.id), "subject": body.subject},
    )  # fmt: skip
    return JSONResponse(answer.model_dump(mode="json"), status_code=202)


@router.delete(
    "/v1/competitions/{competition_id}/participants/{participant_id}",
    status_code=204,
    summary="Remove a participant (owner); ban=true blocks re-joining",
)
async def remove_participant(
    competition_id: uuid.UUID,
    participant_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    auditor: AuditorDep,
    ban: bool = False,
) -> Response:
    """Free the seat, take them out of their team and the board; 404 `NOT_ENROLLED`. Audited."""
    path = f"/competitions/{competition_id}/participants/{participant_id}"
    answer = await client.request("DELETE", path, user, params={"ban": str(ban).lower()})
    if answer.status_code != 204:
        return relay(answer)
    await auditor(
        user, "competition.participant_removed", "competition", competition_id,
        after={"user_id": str(participant_id), "banned": ban},
    )  # fmt: skip
    return Response(status_code=204)


class DecisionBody(BaseModel):
    """Body of `POST .../enrollments/{user_id}/decision`."""

    model_config = ConfigDict(extra="forbid")

    accept: bool
    reason: str | None = Field(default=None, max_length=500)


class DecisionOut(BaseModel):
    """The enrollment after the owner's decision."""

    user_id: uuid.UUID
    status: Literal["accepted", "rejected"]


class PendingRequestOut(BaseModel):
    """A join waiting for the owner's decision."""

    user_id: uuid.UUID
    display_name: str
    requested_at: str


class PendingRequestsOut(BaseModel):
    """Every join waiting for the owner's decision."""

    items: list[PendingRequestOut]


@router.get(
    "/v1/competitions/{competition_id}/enrollments/pending",
    response_model=PendingRequestsOut,
    summary="Joins waiting for my decision (owner, join approval on)",
)
async def pending_requests(
    competition_id: uuid.UUID, client: CompetitionsDep, user: UserDep
) -> Response:
    """Oldest first."""
    path = f"/competitions/{competition_id}/enrollments/pending"
    return relay(await client.request("GET", path, user))


@router.post(
    "/v1/competitions/{competition_id}/enrollments/{participant_id}/decision",
    status_code=202,
    response_model=DecisionOut,
    summary="Accept or decline a pending join (owner)",
)
async def decide(
    competition_id: uuid.UUID,
    participant_id: uuid.UUID,
    body: DecisionBody,
    client: CompetitionsDep,
    user: UserDep,
    auditor: AuditorDep,
) -> Response:
    """Accepting takes a seat (409 `FULL` when none is left); 404 `NO_PENDING_REQUEST`. Audited."""
    path = f"/competitions/{competition_id}/enrollments/{participant_id}/decision"
    answer = await client.request("POST", path, user, json=body.model_dump())
    if answer.status_code != 200:
        return relay(answer)
    decision = DecisionOut.model_validate(answer.json())
    await auditor(
        user, "competition.enrollment_decided", "competition", competition_id,
        after={"user_id": str(participant_id), "status": decision.status, "reason": body.reason},
    )  # fmt: skip
    return JSONResponse(decision.model_dump(mode="json"), 202)

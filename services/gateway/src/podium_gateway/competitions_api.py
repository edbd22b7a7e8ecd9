"""Competition routes of the public API (SPEC §5.2).

Competition create and update are synchronous calls to the competitions
service's internal API (SPEC §6), whose answers, problems included, are passed
through. Details come from the competitions read model in Redis when it answers
for the caller exactly (ADR 0041), from the internal API otherwise.
Joining is a command: the gateway publishes `join.requested` (keyed by
competition id) and answers 202 only after the broker acknowledged; the
competitions service decides and emits the outcome.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from podium_contracts.events import JoinData, JoinRequested
from podium_contracts.redis_keys import daily_submissions_key, utc_day
from podium_runtime.outbox import new_event
from podium_runtime.problems import Problem
from podium_runtime.runtime import ServiceRuntime
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway import joins, read_model
from podium_gateway.auth import (
    Commander,
    CommanderDep,
    OptionalUserDep,
    ReaderDep,
    UserDep,
    settle,
)
from podium_gateway.clients import RedisDep, Relayed, ScriptsDep, SettingsDep, relay
from podium_gateway.clients.audit import AuditorDep
from podium_gateway.clients.competitions import (
    CompetitionsDep,
    competitions_client,
)
from podium_gateway.commands import accept_command
from podium_gateway.config import Settings
from podium_gateway.documents import (
    Competition,
    CompetitionCreate,
    CompetitionPage,
    CompetitionUpdate,
    ParticipantPage,
    Stats,
)

router = APIRouter(tags=["competitions"])

#: Competition fields whose changes the audit log keeps (ADR 0037).
AUDITED_COMPETITION_FIELDS = [
    "title", "description", "kind", "metric", "status", "visibility", "starts_at", "ends_at",
    "timezone", "max_participants", "late_join", "daily_submission_limit", "public_fraction",
    "rules",
]  # fmt: skip


class JoinRequest(BaseModel):
    """Body of `POST /v1/competitions/{id}/join`."""

    model_config = ConfigDict(extra="forbid")

    invite_code: str | None = Field(default=None, min_length=1, max_length=64)


class JoinAccepted(BaseModel):
    """The 202 answer to a join: the decision follows asynchronously."""

    request_id: uuid.UUID
    status: Literal["pending"] = "pending"
    competition_id: uuid.UUID


class EnrollmentOut(BaseModel):
    """The caller's enrollment in a competition."""

    competition_id: uuid.UUID
    status: Literal["pending", "accepted", "rejected", "left"]
    reason: str | None = None
    request_id: uuid.UUID | None = None
    enrolled_at: str | None = None


# --- competitions ------------------------------------------------------------


@router.get(
    "/v1/competitions",
    summary="List public competitions and the caller's own",
    response_model=CompetitionPage,
)
async def list_competitions(
    client: CompetitionsDep,
    user: OptionalUserDep,
    status: Literal["draft", "active", "ended", "canceled"] | None = None,
    kind: Literal["prediction", "activity"] | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    mine: Annotated[
        Literal["owned", "joined"] | None,
        Query(description="only competitions I run (owned) or take part in (joined)"),
    ] = None,
) -> Response:
    """Public competitions plus private ones the caller belongs to, newest first."""
    params = {"status": status, "kind": kind, "q": q, "limit": limit, "cursor": cursor}
    if mine is not None and user is not None:
        params["mine"] = mine
    return relay(await client.request("GET", "/competitions", user, params=params))


@router.post(
    "/v1/competitions",
    status_code=201,
    summary="Create a competition",
    response_model=Competition,
)
async def create_competition(
    body: CompetitionCreate, client: CompetitionsDep, user: UserDep, auditor: AuditorDep
) -> Response:
    """Create a competition; the caller becomes its owner (sponsor). Audited."""
    answer = await client.request("POST", "/competitions", user, json=_sent(body))
    if answer.status_code == 201:
        made = answer.json()
        fields = {k: made.get(k) for k in AUDITED_COMPETITION_FIELDS}
        await auditor(user, "competition.created", "competition", made["id"], after=fields)
    return relay(answer)


@router.get(
    "/v1/competitions/{competition_id}",
    summary="A competition and the caller's role",
    response_model=Competition,
)
async def get_competition(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    reader: ReaderDep,
    scripts: ScriptsDep,
) -> Response:
    """Details plus `viewer`; private competitions are 404 for strangers."""
    user = reader.user
    found = await read_model.snapshot(scripts, competition_id, user, gate=reader.gate)
    body = found.details_body(user)
    if body is not None:
        headers = {"Cache-Control": "private, no-store"} if user is not None else None
        return Response(body, media_type="application/json", headers=headers)
    if found.card is None:
        read_model.repair(client, competition_id)
    answer = await client.request("GET", f"/competitions/{competition_id}", user)
    if answer.status_code != 200 or user is None:
        return relay(answer)
    details = answer.json()
    viewer = details.get("viewer") or {}
    if viewer.get("role") == "participant":
        # The daily count lives where the gateway keeps it (SPEC §5.3: UTC day, Redis).
        # Counted per team (SPEC §10.2); a solo participant is a team of one.
        entrant = uuid.UUID(str(viewer.get("team_id") or user.user_id))
        key = daily_submissions_key(competition_id, entrant, utc_day(datetime.now(UTC)))
        viewer["submissions_today"] = int(await scripts.client.scard(key))
    return JSONResponse(details, headers={"Cache-Control": "private, no-store"})


@router.patch(
    "/v1/competitions/{competition_id}",
    summary="Change a competition (owner/admin)",
    response_model=Competition,
)
async def update_competition(
    competition_id: uuid.UUID,
    body: CompetitionUpdate,
    client: CompetitionsDep,
    user: UserDep,
    auditor: AuditorDep,
) -> Response:
    """Change settings or status (draft→active→ended, draft|active→canceled). Audited."""
    # The raw document (not the decision view): every audited field, serialised like the answer.
    current = await client.request("GET", f"/competitions/{competition_id}", user)
    if current.status_code != 200:
        raise Relayed(current)
    before = current.json()
    answer = await client.request(
        "PATCH", f"/competitions/{competition_id}", user, json=_sent(body)
    )
    if answer.status_code == 200:
        await auditor.changed(
            user, "competition.updated", "competition", competition_id,
            before, answer.json(), AUDITED_COMPETITION_FIELDS,
        )  # fmt: skip
    return relay(answer)


def _sent(body: BaseModel) -> dict[str, Any]:
    """The fields the caller sent, extra ones included (the competitions service judges them)."""
    return body.model_dump(mode="json", exclude_unset=True)


@router.post(
    "/v1/competitions/{competition_id}/invite-code",
    summary="Regenerate a private competition's invite code (owner/admin)",
    response_model=Competition,
)
async def regenerate_invite_code(
    competition_id: uuid.UUID, client: CompetitionsDep, user: UserDep, auditor: AuditorDep
) -> Response:
    """Replace the invite code; the old one stops working at once. Audited (without the code)."""
    answer = await client.request("POST", f"/competitions/{competition_id}/invite-code", user)
    if answer.status_code == 200:
        await auditor(user, "competition.invite_code_rotated", "competition", competition_id)
    return relay(answer)


@router.get(
    "/v1/competitions/{competition_id}/participants",
    summary="Roster (display names only; members only for private competitions)",
    response_model=ParticipantPage,
)
async def participants(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: OptionalUserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Return one page of the roster."""
    params = {"limit": limit, "cursor": cursor}
    path = f"/competitions/{competition_id}/participants"
    return relay(await client.request("GET", path, user, params=params))


@router.get(
    "/v1/competitions/{competition_id}/stats", summary="Owner statistics", response_model=Stats
)
async def stats(competition_id: uuid.UUID, client: CompetitionsDep, user: UserDep) -> Response:
    """Participants, rejections and joins per day (owner or admin)."""
    return relay(await client.request("GET", f"/competitions/{competition_id}/stats", user))


# --- joins -----------------------------------------------------------------------


async def _join_target(request: Request, target: dict[str, Any]) -> uuid.UUID:
    """Ask the internal API which competition a join aims at; unknown ones end with a 404.

    Every invite code, and a join by id whose read-model card is missing
    (`joins.admit`), comes here (ADR 0065); a found competition's card is repaired.
    """
    client = await competitions_client(request.app.state.http, request.app.state.settings)
    resolved = await client.join_target(**target)
    if resolved.status_code != 200:
        raise Relayed(resolved)  # nothing was published: the key is released
    found = uuid.UUID(resolved.json()["competition_id"])
    read_model.repair(client, found)  # the next join by id reads the card again
    return found


async def _join(
    request: Request,
    caller: Commander,
    idempotency_key: str | None,
    target: dict[str, Any],
    fingerprint: str,
    invite_code: str | None,
) -> Response:
    """Publish `join.requested` once per idempotency key and answer 202 after the ack.

    The caller's checks come first. A join by id without a key makes them, finds
    the card and records the join pending in one round trip (`joins.admit`);
    otherwise they are made alone before the key is claimed. The runtime, the
    settings and the competitions client come from the app state, not as
    dependencies: a join is the route of a burst, and each dependency costs.
    """
    state = request.app.state
    runtime: ServiceRuntime = state.runtime
    settings: Settings = state.settings
    redis_client = runtime.redis
    user, gate = caller.user, caller.gate
    by_id: uuid.UUID | None = target.get("competition_id")
    if gate is not None and (idempotency_key is not None or by_id is None):
        await settle(state.scripts, gate)
        gate = None
    async with accept_command(
        redis_client, settings, user, "join", idempotency_key, fingerprint
    ) as command:
        if command.previous is not None:
            return command.replay()
        request_id = uuid.uuid4()
        recorded = False
        if by_id is not None:
            pending = joins.pending_key(settings, by_id, user.user_id)
            recorded = await command.record(
                joins.admit(state.scripts, gate, by_id, pending, request_id),
                undo=lambda: redis_client.delete(pending),
            )
        competition_id = (
            by_id if recorded and by_id is not None else await _join_target(request, target)
        )
        answer = JoinAccepted(request_id=request_id, competition_id=competition_id)
        event = new_event(
            JoinRequested,
            "gateway",
            JoinData(
                request_id=request_id,
                competition_id=competition_id,
                user_id=user.user_id,
                invite_code=invite_code,
            ),
        )
        if not recorded:
            # Recorded first, so a read right after the 202 already says `pending`.
            marker = joins.pending_key(settings, competition_id, user.user_id)
            await command.record(
                redis_client.set(marker, str(request_id), ex=joins.PENDING_TTL_SECONDS),
                undo=lambda: redis_client.delete(marker),
            )
        await command.publish(runtime, event, "join request")
        return await command.accepted(answer)


@router.post(
    "/v1/competitions/{competition_id}/join",
    status_code=202,
    response_model=JoinAccepted,
    summary="Ask to join; the decision follows asynchronously",
)
async def join_competition(
    competition_id: uuid.UUID,
    request: Request,
    caller: CommanderDep,
    body: Annotated[JoinRequest | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Publish `join.requested`; 202 `{request_id, status: "pending"}` once Kafka has it."""
    invite_code = body.invite_code if body else None
    target = {"competition_id": competition_id}
    fingerprint = f"id:{competition_id}:{invite_code or ''}"
    return await _join(request, caller, idempotency_key, target, fingerprint, invite_code)


@router.post(
    "/v1/join/{invite_code}",
    status_code=202,
    response_model=JoinAccepted,
    summary="Join a private competition by its invite code",
)
async def join_by_code(
    invite_code: str,
    request: Request,
    caller: CommanderDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """The same as joining by id; unknown codes are 404 `INVALID_INVITE_CODE`."""
    if caller.gate is not None:
        # 401 and 429 come before the code's 404.
        await settle(request.app.state.scripts, caller.gate)
    if not 1 <= len(invite_code) <= 64:
        raise Problem(404, "INVALID_INVITE_CODE", "No competition has this invite code.")
    target, fingerprint = {"invite_code": invite_code}, f"code:{invite_code}"
    checked = Commander(caller.user, None)
    return await _join(request, checked, idempotency_key, target, fingerprint, invite_code)


@router.get(
    "/v1/competitions/{competition_id}/enrollment",
    response_model=EnrollmentOut,
    summary="My enrollment: pending, accepted, rejected (with reason) or left",
)
async def my_enrollment(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    redis_client: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Merge the service's decision with a join this gateway published and is not decided yet."""
    pending_key = joins.pending_key(settings, competition_id, user.user_id)
    pending_raw, decided = await asyncio.gather(
        redis_client.get(pending_key), client.enrollment(competition_id, user)
    )
    pending = pending_raw.decode() if isinstance(pending_raw, bytes) else pending_raw
    if decided.status_code == 200:
        body = decided.json()
        if pending is None or body.get("request_id") == pending:
            if pending is not None:
                await redis_client.delete(pending_key)
            return JSONResponse(EnrollmentOut.model_validate(body).model_dump(mode="json"))
    elif pending is None:
        return relay(decided)
    waiting = EnrollmentOut(competition_id=competition_id, status="pending", request_id=pending)
    return JSONResponse(waiting.model_dump(mode="json"))


@router.delete(
    "/v1/competitions/{competition_id}/enrollment",
    status_code=204,
    summary="Leave a competition",
    response_class=Response,
)
async def leave(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    redis_client: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Leave; the seat is freed and `enrollment.left` is emitted."""
    response = await client.request("DELETE", f"/competitions/{competition_id}/enrollment", user)
    if response.status_code == 204:
        await redis_client.delete(joins.pending_key(settings, competition_id, user.user_id))
        return Response(status_code=204)
    return relay(response)

"""The caller's profile: identity keeps the account, the notifier the preferences (SPEC §5.1).

The gateway sends each part of a change to its owner and joins the two answers.
Reads are answered from the caller's profile card, which the owners keep in
Redis (`profile_read`, ADR 0074), and from the owners on a miss.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from podium_runtime.problems import Problem
from podium_runtime.problems import problem_responses as problems

from podium_gateway import profile_read
from podium_gateway.account_schemas import ProfilePatch, UserDocument
from podium_gateway.auth import CommanderDep, CurrentUser, UserDep
from podium_gateway.clients import relay
from podium_gateway.clients.identity import IdentityDep, sent_fields
from podium_gateway.clients.notifier import NotifierClient, NotifierDep

router = APIRouter()

JSON = "application/json"
#: The profile is the caller's own: never kept by a shared cache.
_PRIVATE = {"Cache-Control": "private, no-store"}


@router.get(
    "/v1/users/me",
    tags=["accounts"],
    summary="My profile",
    response_model=UserDocument,
    responses=problems(401, 429, 503),
)
async def get_me(
    commander: CommanderDep, request: Request, identity: IdentityDep, notifier: NotifierDep
) -> Response:
    """Return the caller's profile with the notification preferences the notifier keeps."""
    # From the caller's profile card when both its parts are there (one Redis command that
    # also makes the caller's checks, ADR 0074); otherwise identity and the notifier are
    # asked, and they write their parts again.
    user = commander.user
    found, verdict = await profile_read.read(request.app.state.scripts, user, commander.gate)
    if commander.gate is not None:
        commander.gate.settle(verdict)
    profile_read.counted(found is not None)
    if found is not None:
        return Response(found, media_type=JSON, headers=_PRIVATE)
    profile = await identity.call("GET", "/v1/users/me")
    return await _with_preferences(profile, user, notifier)


@router.patch(
    "/v1/users/me",
    tags=["accounts"],
    summary="Change my profile",
    response_model=UserDocument,
    responses=problems(401, 422, 429, 503),
)
async def patch_me(
    body: ProfilePatch, user: UserDep, identity: IdentityDep, notifier: NotifierDep
) -> Response:
    """Change display name, time zone (IANA, validated) or notification preferences.

    The profile lives in identity, the preferences in the notifier, which applies
    them (SPEC §7.4); the gateway sends each part to its owner.
    """
    changes = sent_fields(body)
    preferences = changes.pop("notification_preferences", None)
    method = "PATCH" if changes else "GET"
    profile = await identity.call(method, "/v1/users/me", changes or None)
    return await _with_preferences(profile, user, notifier, preferences)


async def _with_preferences(
    profile: httpx.Response,
    user: CurrentUser,
    notifier: NotifierClient,
    changes: dict[str, Any] | None = None,
) -> Response:
    """Add the notifier's preference matrix to an identity profile answer.

    A change the notifier refuses is passed on as its problem; when the notifier
    is merely unreachable on a read, the profile is still served with
    `notification_preferences: null` rather than failing the whole request.
    """
    if profile.status_code != 200:
        return relay(profile)
    document = profile.json()
    if changes:
        answer = await notifier.change_preferences(user.user_id, changes)
        if answer.status_code != 200:
            return relay(answer)
        document["notification_preferences"] = answer.json()["preferences"]
    else:
        try:
            answer = await notifier.preferences(user.user_id)
        except Problem:
            answer = None
        if answer is not None and answer.status_code == 200:
            document["notification_preferences"] = answer.json()["preferences"]
        else:
            document["notification_preferences"] = None
    return JSONResponse(document, headers=_PRIVATE)

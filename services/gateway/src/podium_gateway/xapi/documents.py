"""xAPI document resources: State, Activity Profile, Agent Profile; Agents and Activities.

xAPI 1.0.3 Communication 2.2-2.7 (IEEE 9274.1.1 4.1.6.2-4.1.6.6). The gateway
checks the parameters, names the agent by its key, enforces the scopes and
relays to ingest's internal document API, which stores each write
synchronously (docs/adr/0026): a tool that PUTs its state reads it back on the
next page load.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, Depends, Request, Response
from podium_contracts.actors import actor_key
from podium_runtime.problems import Problem

from podium_gateway.clients.statements import document_store
from podium_gateway.lrs_auth import LrsClient, require_lrs_scope
from podium_gateway.xapi.api import VERSION_HEADER, XapiRoute, bad_request
from podium_gateway.xapi.models import parse_timestamp, validate_actor, validate_iri

router = APIRouter(prefix="/xapi", tags=["xapi"], route_class=XapiRoute)

StateWriter = Annotated[LrsClient, Depends(require_lrs_scope("state"))]
StateReader = Annotated[LrsClient, Depends(require_lrs_scope("state", "all/read"))]
ProfileWriter = Annotated[LrsClient, Depends(require_lrs_scope("profile"))]
ProfileReader = Annotated[LrsClient, Depends(require_lrs_scope("profile", "all/read"))]
AnyClient = Annotated[LrsClient, Depends(require_lrs_scope())]

_GET = ["GET", "HEAD"]


def _params(request: Request, required: set[str], optional: set[str]) -> dict[str, str]:
    """Return the query parameters; 400 for a missing, unknown or repeated one (Comm. 2.2)."""
    params = request.query_params
    unknown = set(params) - required - optional
    if unknown:
        raise bad_request(f"Unknown parameters: {', '.join(sorted(unknown))}.", "VALIDATION_ERROR")
    missing = required - set(params)
    if missing:
        raise bad_request(
            f"Missing required parameters: {', '.join(sorted(missing))}.", "VALIDATION_ERROR"
        )
    repeated = sorted({k for k in params if len(params.getlist(k)) > 1})
    if repeated:
        raise bad_request(f"Parameters given twice: {', '.join(repeated)}.", "VALIDATION_ERROR")
    return dict(params)


def _agent_key(value: str) -> str:
    """Return the key of the `agent` parameter, a JSON Agent (400 otherwise)."""
    try:
        agent = validate_actor(json.loads(value))
    except ValueError as exc:
        raise bad_request(f"agent is not a valid JSON Agent: {exc}", "XAPI_INVALID_AGENT") from exc
    key: str = actor_key(agent)
    return key


def _activity_id(value: str) -> str:
    try:
        return validate_iri(value)
    except ValueError as exc:
        raise bad_request(f"activityId: {exc}", "VALIDATION_ERROR") from exc


def _registration(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise bad_request("registration is not a UUID.", "VALIDATION_ERROR") from exc


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError as exc:
        raise bad_request(f"since: {exc}", "VALIDATION_ERROR") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _relayed(response: httpx.Response) -> Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("etag", "last-modified")}
    return Response(
        response.content,
        status_code=response.status_code,
        headers=headers,
        media_type=response.headers.get("content-type"),
    )


def _conditions(request: Request) -> dict[str, str]:
    return {
        name: request.headers[name]
        for name in ("if-match", "if-none-match")
        if name in request.headers
    }


async def _write(
    request: Request, kind: str, key: dict[str, str], *, merge: bool, required: bool
) -> Response:
    """Store a document; `required`: a PUT must name the version it replaces (Comm. 3.1)."""
    body = await request.body()
    content_type = request.headers.get("content-type") or "application/octet-stream"
    if merge and content_type.split(";")[0].strip().lower() != "application/json":
        raise bad_request(
            "POST merges JSON documents: send a JSON object as application/json "
            "(xAPI Communication 2.2).",
            "DOCUMENT_NOT_JSON",
        )
    response = await document_store(request).send(
        "PUT",
        f"/internal/documents/{kind}",
        {
            **key,
            "merge": str(merge).lower(),
            "required": str(required).lower(),
            # Profiles (not State) are created with If-None-Match: * (1.0.3 Comm. 2.6, 2.7).
            "required_to_create": str(required and kind != "state").lower(),
        },
        {**_conditions(request), "Content-Type": content_type},
        body,
    )
    return _relayed(response)


async def _read(request: Request, kind: str, key: dict[str, str]) -> Response:
    response = await document_store(request).send("GET", f"/internal/documents/{kind}", key)
    if response.status_code == 404:
        raise Problem(404, "DOCUMENT_NOT_FOUND", "No such document.")
    return _relayed(response)


async def _ids(request: Request, kind: str, owner: dict[str, str]) -> Response:
    response = await document_store(request).send(
        "GET", f"/internal/documents/{kind}/ids", {k: v for k, v in owner.items() if v is not None}
    )
    return Response(orjson.dumps(response.json()["ids"]), media_type="application/json")


async def _delete(request: Request, kind: str, key: dict[str, str]) -> Response:
    await document_store(request).send(
        "DELETE", f"/internal/documents/{kind}", key, _conditions(request)
    )
    return Response(status_code=204)


def _version_2(request: Request) -> bool:
    return request.headers.get(VERSION_HEADER, "").startswith("2.")


# --- State (Communication 2.3) ---------------------------------------------------------

_STATE_REQUIRED = {"activityId", "agent"}


def _state_key(params: dict[str, str]) -> dict[str, str]:
    return {
        "activity_id": _activity_id(params["activityId"]),
        "agent_key": _agent_key(params["agent"]),
        "registration": _registration(params.get("registration")) or "",
        "document_id": params["stateId"],
    }


@router.put("/activities/state", status_code=204, summary="Store a State document")
async def put_state(request: Request, client: StateWriter) -> Response:
    """Store a State document; 2.0.0 requires a precondition to overwrite one (4.1.4)."""
    params = _params(request, _STATE_REQUIRED | {"stateId"}, {"registration"})
    return await _write(
        request, "state", _state_key(params), merge=False, required=_version_2(request)
    )


@router.post("/activities/state", status_code=204, summary="Merge a JSON State document")
async def post_state(request: Request, client: StateWriter) -> Response:
    """Merge a JSON object into a State document (Communication 2.2)."""
    params = _params(request, _STATE_REQUIRED | {"stateId"}, {"registration"})
    return await _write(request, "state", _state_key(params), merge=True, required=False)


@router.api_route("/activities/state", methods=_GET, summary="Get a State document or the ids")
async def get_state(request: Request, client: StateReader) -> Response:
    """Return one State document, or the ids of the agent's states in the activity."""
    params = _params(request, _STATE_REQUIRED, {"registration", "stateId", "since"})
    if "stateId" in params:
        if "since" in params:
            raise bad_request("since applies only without stateId.", "VALIDATION_ERROR")
        return await _read(request, "state", _state_key(params))
    owner = {
        "activity_id": _activity_id(params["activityId"]),
        "agent_key": _agent_key(params["agent"]),
        "registration": _registration(params.get("registration")),
        "since": _since(params.get("since")),
    }
    return await _ids(request, "state", {k: v for k, v in owner.items() if v is not None})


@router.delete("/activities/state", status_code=204, summary="Delete State documents")
async def delete_state(request: Request, client: StateWriter) -> Response:
    """Delete one State document, or all of the agent's in the activity (one registration)."""
    params = _params(request, _STATE_REQUIRED, {"registration", "stateId"})
    if "stateId" in params:
        return await _delete(request, "state", _state_key(params))
    owner = {
        "activity_id": _activity_id(params["activityId"]),
        "agent_key": _agent_key(params["agent"]),
    }
    registration = _registration(params.get("registration"))
    if registration is not None:
        owner["registration"] = registration
    await document_store(request).send("DELETE", "/internal/states", owner)
    return Response(status_code=204)


# --- Activity Profile (Communication 2.7) ----------------------------------------------


def _activity_profile_key(params: dict[str, str]) -> dict[str, str]:
    return {
        "activity_id": _activity_id(params["activityId"]),
        "document_id": params["profileId"],
    }


@router.put("/activities/profile", status_code=204, summary="Store an Activity Profile")
async def put_activity_profile(request: Request, client: ProfileWriter) -> Response:
    """Store an Activity Profile document; overwriting one needs a precondition (Comm. 3.1)."""
    params = _params(request, {"activityId", "profileId"}, set())
    return await _write(
        request, "activity_profile", _activity_profile_key(params), merge=False, required=True
    )


@router.post("/activities/profile", status_code=204, summary="Merge a JSON Activity Profile")
async def post_activity_profile(request: Request, client: ProfileWriter) -> Response:
    """Merge a JSON object into an Activity Profile document (Communication 2.2)."""
    params = _params(request, {"activityId", "profileId"}, set())
    return await _write(
        request, "activity_profile", _activity_profile_key(params), merge=True, required=False
    )


@router.api_route("/activities/profile", methods=_GET, summary="Get an Activity Profile or the ids")
async def get_activity_profile(request: Request, client: ProfileReader) -> Response:
    """Return one Activity Profile document, or the activity's profile ids."""
    params = _params(request, {"activityId"}, {"profileId", "since"})
    if "profileId" in params:
        if "since" in params:
            raise bad_request("since applies only without profileId.", "VALIDATION_ERROR")
        return await _read(request, "activity_profile", _activity_profile_key(params))
    owner = {
        "activity_id": _activity_id(params["activityId"]),
        "since": _since(params.get("since")),
    }
    return await _ids(request, "activity_profile", {k: v for k, v in owner.items() if v})


@router.delete("/activities/profile", status_code=204, summary="Delete an Activity Profile")
async def delete_activity_profile(request: Request, client: ProfileWriter) -> Response:
    """Delete one Activity Profile document."""
    params = _params(request, {"activityId", "profileId"}, set())
    return await _delete(request, "activity_profile", _activity_profile_key(params))


# --- Agent Profile (Communication 2.6) -------------------------------------------------


def _agent_profile_key(params: dict[str, str]) -> dict[str, str]:
    return {"agent_key": _agent_key(params["agent"]), "document_id": params["profileId"]}


@router.put("/agents/profile", status_code=204, summary="Store an Agent Profile")
async def put_agent_profile(request: Request, client: ProfileWriter) -> Response:
    """Store an Agent Profile document; overwriting one needs a precondition (Comm. 3.1)."""
    params = _params(request, {"agent", "profileId"}, set())
    return await _write(
        request, "agent_profile", _agent_profile_key(params), merge=False, required=True
    )


@router.post("/agents/profile", status_code=204, summary="Merge a JSON Agent Profile")
async def post_agent_profile(request: Request, client: ProfileWriter) -> Response:
    """Merge a JSON object into an Agent Profile document (Communication 2.2)."""
    params = _params(request, {"agent", "profileId"}, set())
    return await _write(
        request, "agent_profile", _agent_profile_key(params), merge=True, required=False
    )


@router.api_route("/agents/profile", methods=_GET, summary="Get an Agent Profile or the ids")
async def get_agent_profile(request: Request, client: ProfileReader) -> Response:
    """Return one Agent Profile document, or the agent's profile ids."""
    params = _params(request, {"agent"}, {"profileId", "since"})
    if "profileId" in params:
        if "since" in params:
            raise bad_request("since applies only without profileId.", "VALIDATION_ERROR")
        return await _read(request, "agent_profile", _agent_profile_key(params))
    owner = {"agent_key": _agent_key(params["agent"]), "since": _since(params.get("since"))}
    return await _ids(request, "agent_profile", {k: v for k, v in owner.items() if v})


@router.delete("/agents/profile", status_code=204, summary="Delete an Agent Profile")
async def delete_agent_profile(request: Request, client: ProfileWriter) -> Response:
    """Delete one Agent Profile document."""
    params = _params(request, {"agent", "profileId"}, set())
    return await _delete(request, "agent_profile", _agent_profile_key(params))


# --- Agents and Activities (Communication 2.4, 2.5) ------------------------------------

_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


@router.api_route("/agents", methods=_GET, summary="Get the Person object of an agent")
async def get_agents(request: Request, client: AnyClient) -> Response:
    """Return the Person object: every name and identifier known for the agent (Comm. 2.4)."""
    params = _params(request, {"agent"}, set())
    try:
        agent = validate_actor(json.loads(params["agent"]))
    except ValueError as exc:
        raise bad_request(f"agent is not a valid JSON Agent: {exc}", "XAPI_INVALID_AGENT") from exc
    if agent.get("objectType") == "Group":
        raise bad_request("agent must be an Agent, not a Group.", "XAPI_INVALID_AGENT")
    person: dict[str, Any] = {"objectType": "Person"}
    if "name" in agent:
        person["name"] = [agent["name"]]
    for name in _IFIS:
        if name in agent:
            person[name] = [agent[name]]
    return Response(orjson.dumps(person), media_type="application/json")


@router.api_route("/activities", methods=_GET, summary="Get the full Activity object")
async def get_activities(request: Request, client: AnyClient) -> Response:
    """Return the Activity with its definition merged from every statement naming it."""
    params = _params(request, {"activityId"}, set())
    activity_id = _activity_id(params["activityId"])
    response = await document_store(request).send(
        "GET", "/internal/activities", {"activity_id": activity_id}
    )
    return Response(response.content, media_type="application/json")

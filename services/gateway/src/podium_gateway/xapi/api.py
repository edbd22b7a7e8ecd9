"""The `/xapi/statements` resource of the Learning Record Store (SPEC §5.4, xAPI 1.0.3 Part Three).

Thin transport: parse and validate, claim ids (claims.py), publish to Kafka, or
read through ingest's internal API. Every answer, errors included, carries
`X-Experience-API-Version`, and request errors are 400 as xAPI requires.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from aiokafka.errors import MessageSizeTooLargeError
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from podium_contracts.actors import actor_key
from podium_contracts.events import StatementsData, StatementsReceived
from podium_runtime.hygiene import ascii_int, json_problem, orjson_problem, unsafe_text_reason
from podium_runtime.outbox import new_event
from podium_runtime.problems import Problem, problem_response

from podium_gateway.clients.statements import StatementStore, statement_store
from podium_gateway.lrs_auth import LrsClient, require_lrs_scope
from podium_gateway.uploads import app_blob_store
from podium_gateway.xapi.attachments import (
    AttachmentError,
    Part,
    build_multipart,
    load_parts,
    match_parts,
    read_multipart,
    store_parts,
)
from podium_gateway.xapi.claims import ClaimState, StatementClaims
from podium_gateway.xapi.domain import content_hash, prepare_statement
from podium_gateway.xapi.models import (
    VOIDED_VERB,
    StatementError,
    parse_timestamp,
    validate_actor,
    validate_iri,
    validate_statement,
)
from podium_gateway.xapi.signatures import SignatureError, verify_statement
from podium_gateway.xapi.store import CoalescedLookup
from podium_gateway.xapi.versions import SpokenVersions, basic_fingerprint

VERSION_HEADER = "X-Experience-API-Version"
CONSISTENT_HEADER = "X-Experience-API-Consistent-Through"
SUPPORTED_VERSIONS = ("1.0", "1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0")
QUERY_PARAMS = {
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "cursor",
}
#: Largest batch one POST may carry.
MAX_BATCH = 1000


def bad_request(detail: str, code: str = "XAPI_BAD_REQUEST", **kwargs: Any) -> Problem:
    """Return the 400 problem xAPI requires for a malformed request (Communication 3.2)."""
    return Problem(400, code, detail, **kwargs)


#: How the version header is answered, for the OpenAPI description of every xAPI route.
VERSION_RULE = (
    "The xAPI version of the request (Communication 3.3): 1.0.0-1.0.3 or 2.0.0. Every "
    "answer names the version it speaks in `X-Experience-API-Version`: 1.0.3 for every "
    "1.0.x, 2.0.0 for 2.0.0. A request without the header is refused with 400 "
    "`XAPI_VERSION_REQUIRED`; that answer names the version the same Basic credentials "
    "named in their last verified request, or the gateway's `xapi_default_version` when "
    "they named none yet (or the credentials are missing or unknown)."
)


class XapiRoute(APIRoute):
    """Route class enforcing the version header and xAPI error conventions (Comm. 3.3, 6.2)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Declare the version header of every xAPI route in the OpenAPI document, once.

        Once: a route built again from its own arguments (`route_table.add_routes`)
        already declares it.
        """
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        header = {
            "in": "header",
            "name": VERSION_HEADER,
            "required": True,
            "description": VERSION_RULE,
            "schema": {"type": "string", "enum": list(SUPPORTED_VERSIONS)},
        }
        parameters = list(extra.get("parameters", []))
        if header not in parameters:
            parameters.append(header)
        extra["parameters"] = parameters
        super().__init__(path, endpoint, openapi_extra=extra, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: version check, 400 for validation errors, version on every answer."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            requested = request.headers.get(VERSION_HEADER)
            if requested is None:
                # The version these credentials spoke last (xapi/versions.py), else the default.
                answer_version = (
                    await _unversioned_answer(request)
                    or request.app.state.settings.xapi_default_version
                )
            else:
                answer_version = "2.0.0" if requested == "2.0.0" else "1.0.3"
            try:
                if requested is None:
                    raise bad_request(
                        f"The {VERSION_HEADER} header is required.", "XAPI_VERSION_REQUIRED"
                    )
                if requested not in SUPPORTED_VERSIONS:
                    raise bad_request(
                        f"xAPI version {requested!r} is not supported; "
                        f"use one of {', '.join(SUPPORTED_VERSIONS)}.",
                        "XAPI_VERSION_UNSUPPORTED",
                    )
                for name, value in request.query_params.multi_items():
                    reason = unsafe_text_reason(name) or unsafe_text_reason(value)
                    if reason:
                        raise bad_request(f"Parameter {name[:50]!r} {reason}.", "VALIDATION_ERROR")
                response = await handler(request)
            except RequestValidationError as exc:
                errors = [
                    {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e["msg"]}
                    for e in exc.errors()
                ]
                detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
                response = problem_response(
                    bad_request(detail or "invalid request", "VALIDATION_ERROR", errors=errors)
                )
            except Problem as exc:
                response = problem_response(exc)
            credential = getattr(request.state, "lrs_credential", None)
            if credential is not None and requested in SUPPORTED_VERSIONS:
                spoken_versions(request).record(credential, answer_version)
            response.headers[VERSION_HEADER] = answer_version
            if (
                request.method in ("GET", "HEAD")
                and request.url.path.endswith("/xapi/statements")
                and CONSISTENT_HEADER not in response.headers
            ):
                # Comm. 2.1.3: every statement GET answer carries it, errors included.
                through = await _store(request).consistent_through()
                if through is not None:
                    response.headers[CONSISTENT_HEADER] = through
            return response

        return route


def spoken_versions(request: Request) -> SpokenVersions:
    """Return the app's memory of the version each credential last spoke."""
    state = request.app.state
    versions: SpokenVersions | None = getattr(state, "xapi_spoken_versions", None)
    if versions is None:
        versions = SpokenVersions(state.runtime.redis, state.settings.redis_key_prefix)
        state.xapi_spoken_versions = versions
    return versions


async def _unversioned_answer(request: Request) -> str | None:
    fingerprint = basic_fingerprint(request.headers.get("authorization"))
    if fingerprint is None:
        return None
    return await spoken_versions(request).last(fingerprint)


router = APIRouter(prefix="/xapi", tags=["xapi"], route_class=XapiRoute)

Writer = Annotated[LrsClient, Depends(require_lrs_scope("statements/write"))]
Reader = Annotated[
    LrsClient,
    Depends(require_lrs_scope("statements/read", "statements/read/mine", "all/read")),
]


def claims(request: Request) -> StatementClaims:
    """Return the app's statement claims (one per gateway process)."""
    state = request.app.state
    claims: StatementClaims | None = getattr(state, "xapi_claims", None)
    if claims is None:
        claims = StatementClaims(state.scripts, state.settings.redis_key_prefix)
        state.xapi_claims = claims
    return claims


def _store(request: Request) -> StatementStore:
    return statement_store(request)


def _lookups(request: Request) -> CoalescedLookup:
    state = request.app.state
    lookups: CoalescedLookup | None = getattr(state, "xapi_lookups", None)
    if lookups is None:
        lookups = CoalescedLookup(statement_store(request).lookup)
        state.xapi_lookups = lookups
    return lookups


def _authority(request: Request, client: LrsClient) -> dict[str, Any]:
    """xAPI Data 2.4.9: the LRS names the credentials that vouched for the statement."""
    return {
        "objectType": "Agent",
        "name": client.name,
        "account": {
            "homePage": request.app.state.settings.public_base_url,
            "name": str(client.client_id),
        },
    }


async def _read_body(request: Request) -> tuple[Any, dict[str, Part]]:
    """Return the statements document and any attachment parts (xAPI Comm. 1.5)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    body = await request.body()
    parts: dict[str, Part] = {}
    if media_type == "multipart/mixed":
        try:
            body, parts = read_multipart(body, content_type)
        except AttachmentError as exc:
            raise bad_request(str(exc), "XAPI_INVALID_MULTIPART") from exc
        # Only attachments take the upload limit; the statements part has the JSON one
        # (regression: a 3 MiB statement sent as multipart reached Kafka and answered 500).
        limit = request.app.state.settings.max_body_bytes
        if len(body) > limit:
            raise Problem(413, "PAYLOAD_TOO_LARGE", f"The statements part exceeds {limit} bytes.")
    elif media_type != "application/json":
        raise bad_request(
            "Statements must be sent as application/json, or as multipart/mixed with "
            "attachments (xAPI Comm. 1.5).",
            "XAPI_CONTENT_TYPE",
        )
    try:
        document = orjson.loads(body)  # refuses lone surrogates itself
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The body is not valid JSON: {exc}", "XAPI_MALFORMED_JSON") from exc
    # Postgres cannot store NUL, and a deep document must not reach the recursive checks.
    problem = orjson_problem(body, document)
    if problem:
        raise bad_request(f"Invalid statement: {problem}.", "XAPI_INVALID_STATEMENT")
    return document, parts


def _validate(raws: list[Any], batch: bool, parts: dict[str, Part]) -> None:
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        try:
            validate_statement(raw, index if batch else None)
        except StatementError as exc:
            errors += exc.errors
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:20])
        raise bad_request(f"Invalid statement: {detail}", "XAPI_INVALID_STATEMENT", errors=errors)
    # xAPI Data 2.4.11, Comm. 1.5.2: each attachment has a fileUrl or a part with its sha2.
    try:
        match_parts(raws, parts, batch)
    except AttachmentError as exc:
        raise bad_request(str(exc), "XAPI_ATTACHMENT_MISSING") from exc
    # Data 2.6: signatures are verified before anything of the batch is stored.
    for index, raw in enumerate(raws):
        try:
            verify_statement(raw, parts)
        except SignatureError as exc:
            where = f"[{index}] " if batch else ""
            raise bad_request(f"{where}Invalid signature: {exc}", "XAPI_INVALID_SIGNATURE") from exc


async def store_statements(
    request: Request, client: LrsClient, raws: list[dict[str, Any]]
) -> list[str]:
    """Claim, publish and acknowledge statements; return their ids in request order."""
    stored = datetime.now(UTC)
    authority = _authority(request, client)
    version = "2.0.0" if request.headers.get(VERSION_HEADER) == "2.0.0" else "1.0.0"
    statements = [prepare_statement(r, stored, authority, version) for r in raws]
    ids = [s["id"] for s in statements]
    # The ids the client chose, in their stored form (`prepare_statement` wrote it).
    supplied = {i for i, r in zip(ids, raws, strict=True) if "id" in r}
    if len(set(ids)) != len(ids):
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        raise bad_request(
            f"Statement ids repeat within the batch: {', '.join(duplicated)}.",
            "XAPI_DUPLICATE_ID",
        )
    hashes = [content_hash(s) for s in statements]
    id_claims = claims(request)
    states = await id_claims.claim(ids, hashes)
    conflicts = [i for i, state in zip(ids, states, strict=True) if state is ClaimState.CONFLICT]
    if conflicts:
        raise _conflict(conflicts)
    new = [(i, h) for i, h, s in zip(ids, hashes, states, strict=True) if s.new]
    # A claim can be missing although the id is stored (Redis evicted or expired it):
    # ingest is the source of truth for ids the client chose (docs/adr/0004). It is
    # asked only about ids the index of stored ids cannot rule out (docs/adr/0059).
    unsure = [
        i
        for i, state in zip(ids, states, strict=True)
        if state is ClaimState.NEW_MAYBE_STORED and i in supplied
    ]
    try:
        existing = await _lookups(request).lookup(unsure) if unsure else {}
    except BaseException:
        if new:
            await id_claims.release(*zip(*new, strict=True))
        raise
    already_stored: set[str] = set()
    for statement_id, previous in existing.items():
        if content_hash(previous) != hashes[ids.index(statement_id)]:
            await id_claims.release(*zip(*new, strict=True))
            raise _conflict([statement_id])
        already_stored.add(statement_id)
    publish = [
        s
        for s, state in zip(statements, states, strict=True)
        if (state.new or state is ClaimState.SAME_PENDING) and s["id"] not in already_stored
    ]
    window = request.app.state.settings.xapi_publish_window_seconds
    remaining = window - (datetime.now(UTC) - stored).total_seconds()
    try:
        # Ingest's consistent-through trusts that a statement stamped `stored` is in Kafka
        # within the window (podium_ingest.consistency); later ones are refused. A timeout
        # scope, not `wait_for`: no task per request.
        async with asyncio.timeout(max(remaining, 0.001)):
            await _publish(request, client, publish)
    except TimeoutError as exc:
        if new:
            await id_claims.release(*zip(*new, strict=True))
        raise Problem(
            503,
            "SERVICE_UNAVAILABLE",
            "The statements could not be stored in time; retry them.",
            headers={"Retry-After": "1"},
        ) from exc
    except BaseException:
        if new:
            await id_claims.release(*zip(*new, strict=True))
        raise
    committed = [
        (i, h)
        for i, h, s in zip(ids, hashes, states, strict=True)
        if s != ClaimState.SAME_COMMITTED
    ]
    if committed:
        id_claims.commit_soon(*zip(*committed, strict=True))
    voidings = [(s["object"]["id"], s["id"]) for s in publish if s["verb"]["id"] == VOIDED_VERB]
    await id_claims.note_voidings(voidings)
    return ids


def _conflict(ids: list[str]) -> Problem:
    return Problem(
        409,
        "XAPI_STATEMENT_CONFLICT",
        f"A different statement is already stored with id {', '.join(ids)} "
        "(xAPI Data 2.3.1: statements are immutable).",
    )


async def _publish(request: Request, client: LrsClient, statements: list[dict[str, Any]]) -> None:
    """Publish one event per actor (the topic key), returning after acks=all (SPEC §4)."""
    if not statements:
        return
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        by_actor.setdefault(actor_key(statement["actor"]), []).append(statement)
    # The statements were validated above: the payload is built without walking them again.
    events = [
        new_event(
            StatementsReceived,
            "gateway",
            StatementsData.model_construct(
                actor=actor, lrs_client_id=client.client_id, statements=group
            ),
        )
        for actor, group in by_actor.items()
    ]
    try:
        await request.app.state.runtime.publisher.publish(*events)
    except MessageSizeTooLargeError as exc:
        # One actor's statements travel as one event; Kafka refuses records past its limit.
        raise Problem(
            413,
            "PAYLOAD_TOO_LARGE",
            "The statements of one actor are too large to store together; send fewer at once.",
        ) from exc


@router.post("/statements", summary="Store one statement or an array of statements")
async def post_statements(request: Request, client: Writer) -> Response:
    """Store statements; 200 with their ids once durably in Kafka (xAPI Comm. 2.1.2)."""
    body, parts = await _read_body(request)
    batch = isinstance(body, list)
    raws = body if batch else [body]
    if not raws:
        raise bad_request("The array of statements is empty.", "XAPI_EMPTY_BATCH")
    if len(raws) > MAX_BATCH:
        raise Problem(413, "XAPI_BATCH_TOO_LARGE", f"At most {MAX_BATCH} statements per request.")
    _validate(raws, batch, parts)
    # The content is stored before the statements are announced, so readers find it.
    await store_parts(app_blob_store(request), parts)
    ids = await store_statements(request, client, raws)
    return Response(orjson.dumps(ids), media_type="application/json")


@router.put("/statements", summary="Store one statement with a given id", status_code=204)
async def put_statement(request: Request, client: Writer, statementId: str) -> Response:
    """Store one statement under `statementId`; 204, or 409 when a different one has it."""
    try:
        statement_id = str(uuid.UUID(statementId))
    except ValueError as exc:
        raise bad_request("statementId is not a UUID.", "XAPI_INVALID_ID") from exc
    body, parts = await _read_body(request)
    if isinstance(body, list):
        raise bad_request("PUT takes a single statement.", "XAPI_INVALID_STATEMENT")
    _validate([body], False, parts)
    if "id" in body and str(uuid.UUID(body["id"])) != statement_id:
        raise bad_request("The statement's id differs from statementId.", "XAPI_INVALID_ID")
    body = {**body, "id": statement_id}
    await store_parts(app_blob_store(request), parts)
    await store_statements(request, client, [body])
    return Response(status_code=204)


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _flag(name: str, value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f"{name} must be true or false.", "VALIDATION_ERROR")


@router.api_route(
    "/statements", methods=["GET", "HEAD"], summary="Get one statement or query statements"
)
async def get_statements(request: Request, client: Reader) -> Response:
    """Return one statement by id, or `{statements, more}` for the filters (xAPI Comm. 2.1.3)."""
    params = dict(request.query_params)
    unknown = set(params) - QUERY_PARAMS
    if unknown:
        raise bad_request(f"Unknown parameters: {', '.join(sorted(unknown))}.", "VALIDATION_ERROR")
    statement_format = params.get("format", "exact")
    if statement_format not in ("ids", "exact", "canonical"):
        raise bad_request("format must be ids, exact or canonical.", "VALIDATION_ERROR")
    with_attachments = _flag("attachments", params.get("attachments"))
    for name in ("related_activities", "related_agents"):
        _flag(name, params.get(name))
    languages = _accepted_languages(request.headers.get("accept-language", ""))
    store = _store(request)
    single: list[str] = [p for p in ("statementId", "voidedStatementId") if p in params]
    if single:
        found, headers = await _get_one(request, store, params, single, client)
        document = _shape(found, statement_format, languages)
        return await _answer(request, document, [found], headers, with_attachments)
    query = _query_params(params, client)
    page = await store.query(query)
    body: dict[str, Any] = {
        "statements": [_shape(s, statement_format, languages) for s in page["statements"]],
        "more": "",
    }
    if page["cursor"]:
        kept = {k: v for k, v in params.items() if k != "cursor"}
        body["more"] = "/xapi/statements?" + urlencode({**kept, "cursor": page["cursor"]})
    headers = {CONSISTENT_HEADER: page["consistent_through"]}
    newest = [parse_timestamp(s["stored"]) for s in page["statements"]]
    headers["Last-Modified"] = _http_date(
        max(newest) if newest else parse_timestamp(page["consistent_through"])
    )
    return await _answer(request, body, page["statements"], headers, with_attachments)


async def _answer(
    request: Request,
    document: Any,
    statements: list[dict[str, Any]],
    headers: dict[str, str],
    with_attachments: bool,
) -> Response:
    """Answer JSON, or multipart/mixed with the attachments' content (xAPI Comm. 1.5.2)."""
    if not with_attachments:
        return Response(orjson.dumps(document), media_type="application/json", headers=headers)
    parts = await load_parts(app_blob_store(request), statements)
    body, content_type = build_multipart(orjson.dumps(document), parts)
    return Response(body, headers={**headers, "Content-Type": content_type})


async def _get_one(
    request: Request,
    store: StatementStore,
    params: dict[str, str],
    single: list[str],
    client: LrsClient,
) -> tuple[dict[str, Any], dict[str, str]]:
    # xAPI Comm. 2.1.3: statementId/voidedStatementId exclude every filter but these two.
    others = set(params) - {"statementId", "voidedStatementId", "format", "attachments"}
    if len(single) > 1 or others:
        raise bad_request(
            f"{single[0]} cannot be combined with {', '.join(sorted(set(single[1:]) | others))}.",
            "VALIDATION_ERROR",
        )
    try:
        statement_id = str(uuid.UUID(params[single[0]]))
    except ValueError as exc:
        raise bad_request(f"{single[0]} is not a UUID.", "XAPI_INVALID_ID") from exc
    voided = single[0] == "voidedStatementId"
    found = await store.get(statement_id, voided=voided)
    if found is None:
        found = await _await_accepted(request, store, statement_id, voided)
    # Only a pending voiding can turn the answer: shown by statementId, absent by voided id.
    if (found is None) == voided and await _await_voidings(request, store, statement_id):
        found = await store.get(statement_id, voided=voided)
    mine_only = not client.reads_all_statements()
    if found is not None and mine_only:
        if found.get("authority", {}).get("account", {}).get("name") != str(client.client_id):
            found = None
    if found is None:
        raise Problem(404, "STATEMENT_NOT_FOUND", f"No statement {statement_id}.")
    stored = parse_timestamp(found["stored"])
    return found, {"Last-Modified": _http_date(stored)}


#: How long a GET by id waits for a statement accepted but not yet stored.
ACCEPTED_WAIT_SECONDS = 10.0


async def _await_accepted(
    request: Request, store: StatementStore, statement_id: str, voided: bool
) -> dict[str, Any] | None:
    """Read-your-writes for GET by id: wait for a statement accepted but not yet stored.

    An accepted statement is claimed in Redis before its 200 (docs/adr/0004) and stored
    by ingest shortly after; a statement that is stored (voided or not) or never claimed
    is answered at once.
    """
    if not await claims(request).exists(statement_id):
        return None
    if await _until_stored(store, [statement_id]):
        return await store.get(statement_id, voided=voided)
    return None


async def _until_stored(store: StatementStore, ids: list[str]) -> bool:
    """Wait until ingest stored every one of `ids` (up to `ACCEPTED_WAIT_SECONDS`)."""
    deadline = asyncio.get_running_loop().time() + ACCEPTED_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if len(await store.lookup(ids)) == len(ids):
            return True
        await asyncio.sleep(0.05)
    return False


async def _await_voidings(request: Request, store: StatementStore, statement_id: str) -> bool:
    """Read-your-writes for voiding: wait until the accepted voiding statements are stored.

    Returns True when some were pending (the target must be read again), False at once
    when none target `statement_id`. Ingest voids the target in the transaction that
    stores the voiding statement, or leaves it as it is when the spec says so.
    """
    pending = await claims(request).voidings(statement_id)
    if not pending:
        return False
    await _until_stored(store, pending)
    return True


def _query_params(params: dict[str, str], client: LrsClient) -> dict[str, str]:
    """Validate the query filters and translate them for ingest."""
    query: dict[str, str] = {}
    if "agent" in params:
        try:
            parsed = json.loads(params["agent"])
            problem = json_problem(parsed, max_depth=4)
            if problem:
                raise ValueError(problem)
            agent = validate_actor(parsed)
        except (ValueError, RecursionError, StatementError) as exc:
            raise bad_request(
                f"agent is not a valid Agent or Group: {exc}", "VALIDATION_ERROR"
            ) from exc
        query["agent_key"] = actor_key(agent)
        if _flag("related_agents", params.get("related_agents")) and "member" not in agent:
            identifier = {k: v for k, v in agent.items() if k not in ("objectType", "name")}
            query["related_agent"] = orjson.dumps(identifier).decode()
    for name in ("verb", "activity"):
        if name in params:
            try:
                query[name] = validate_iri(params[name])
            except ValueError as exc:
                raise bad_request(f"{name}: {exc}", "VALIDATION_ERROR") from exc
    if "activity" in query and _flag("related_activities", params.get("related_activities")):
        query["related_activities"] = "true"
    if "registration" in params:
        try:
            query["registration"] = str(uuid.UUID(params["registration"]))
        except ValueError as exc:
            raise bad_request("registration is not a UUID.", "VALIDATION_ERROR") from exc
    for name in ("since", "until"):
        if name in params:
            try:
                moment = parse_timestamp(params[name])
                # An instant must exist in UTC too: 0001-01-01T00:00+14:00 does not.
                moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
            except (ValueError, OverflowError) as exc:
                raise bad_request(f"{name}: {exc}", "VALIDATION_ERROR") from exc
            query[name] = moment.isoformat()
    if "limit" in params:
        limit = params["limit"]
        if ascii_int(limit, maximum=999_999_999) is None:
            raise bad_request("limit must be a non-negative integer.", "VALIDATION_ERROR")
        query["limit"] = limit
    query["ascending"] = "true" if _flag("ascending", params.get("ascending")) else "false"
    if "cursor" in params:
        query["cursor"] = params["cursor"]
    if not client.reads_all_statements():
        # statements/read/mine: only what this client's credentials stored (xAPI Comm. 4.1).
        query["lrs_client_id"] = str(client.client_id)
    return query


def _accepted_languages(header: str) -> list[str]:
    return [part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()]


def _shape(statement: dict[str, Any], statement_format: str, languages: list[str]) -> Any:
    """Apply `format` (xAPI Comm. 2.1.3): exact as stored, ids only, or one language."""
    if statement_format == "exact":
        return statement
    if statement_format == "ids":
        return _ids_only(statement)
    return _one_language(statement, languages)


def _ids_only(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        object_type = value.get("objectType")
        if key in ("actor", "authority", "instructor", "team", "member") or object_type in (
            "Agent",
            "Group",
        ):
            kept = {
                k: v
                for k, v in value.items()
                if k in ("objectType", "mbox", "mbox_sha1sum", "openid", "account")
            }
            if "member" in value and not any(
                k in value for k in ("mbox", "mbox_sha1sum", "openid", "account")
            ):
                kept["member"] = [_ids_only(m, "member") for m in value["member"]]
            return kept
        if key == "verb" or (key in ("object",) and object_type in (None, "Activity")):
            return {"id": value["id"]}
        return {k: _ids_only(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key in ("parent", "grouping", "category", "other"):
            return [{"id": a["id"]} for a in value]
        return [_ids_only(v, key) for v in value]
    return value


_LANGUAGE_MAP_KEYS = {"display", "name", "description"}


def _one_language(value: Any, languages: list[str], key: str = "") -> Any:
    if isinstance(value, dict):
        if key in _LANGUAGE_MAP_KEYS and value and all(isinstance(v, str) for v in value.values()):
            for wanted in languages:
                for tag, text in value.items():
                    if tag.lower() == wanted or tag.lower().split("-")[0] == wanted:
                        return {tag: text}
            first = next(iter(value))
            return {first: value[first]}
        return {k: _one_language(v, languages, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_one_language(v, languages, key) for v in value]
    return value

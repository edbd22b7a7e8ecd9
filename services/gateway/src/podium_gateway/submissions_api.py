"""Submission routes of the public API (SPEC §5.3) and the answer-key upload (SPEC §5.2).

Uploads are commands: the gateway checks who may submit (the read model, else
competitions' internal API), counts the daily limit and records the submission
queued in one Redis script while the file is written to the blob store (ADR
0111), and publishes `submission.received` (keyed by competition id), answering
202 only after the broker acknowledged. Files travel by reference (key and
sha256). Reads merge scoring's internal read API with a Redis record of the
submissions this gateway queued, so the author never gets a 404 because the
scorer has not caught up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, File, Header, Query, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from podium_contracts import Event
from podium_contracts.events import (
    AnswerKeyData,
    AnswerKeyUploaded,
    RescoreData,
    RescoreRequested,
    SubmissionInvalidated,
    SubmissionInvalidatedData,
    SubmissionReceived,
    SubmissionReceivedData,
)
from podium_contracts.redis_keys import (
    DAILY_SUBMISSIONS_TTL_SECONDS,
    daily_rejections_key,
    daily_submissions_key,
    next_utc_midnight,
    utc_day,
)
from podium_runtime.blobs import BlobNotFoundError, BlobRef, BlobStore
from podium_runtime.exports import Format, csv_rows, download, encode
from podium_runtime.outbox import new_event
from podium_runtime.problems import Problem
from podium_runtime.script_line import Scripts
from pydantic import BaseModel, ConfigDict
from redis.commands.core import AsyncScript

from podium_gateway import read_model
from podium_gateway.auth import CommanderDep, CurrentUser, UserDep
from podium_gateway.clients import (
    RedisDep,
    Relayed,
    RuntimeDep,
    ScriptsDep,
    SettingsDep,
    publish,
    relay,
)
from podium_gateway.clients.audit import AuditorDep
from podium_gateway.clients.competitions import (
    CompetitionsDep,
    CompetitionView,
    has_ended,
    is_sponsor,
    require_sponsor,
)
from podium_gateway.clients.scoring import ScoringClient, ScoringDep
from podium_gateway.commands import Command, accept_command
from podium_gateway.config import Settings
from podium_gateway.documents import (
    AnswerKeyAccepted,
    AnswerKeyState,
    InvalidationAccepted,
    RescoreAccepted,
)
from podium_gateway.exports import CHUNK, SUBMISSION_COLUMNS, tells_cells
from podium_gateway.uploads import (
    BlobDep,
    answer_key_blob_key,
    read_upload,
    submission_blob_key,
)

router = APIRouter(tags=["submissions"])

#: How long the gateway remembers a queued submission (scoring takes seconds).
QUEUED_TTL_SECONDS = 7 * 24 * 3600

# Count one submission against the day's limit in one step (SPEC §5.3: atomically),
# and record it queued, so a read right after the 202 already finds it.
# The day's key is a set of submission ids: a retried request adds nothing, and
# `submission.rejected` removes its id to give the slot back (SPEC §7.1). The same
# round trip checks the day's rejected uploads and whether the day's set exists.
# KEYS: the day's slots, the day's rejected uploads, the queued record, the caller's
# index of queued ones. ARGV: submission id, limit, TTL, rejected-upload limit, "1"
# once a missing set was seeded (or could not be), the queued record, its TTL, the
# submission's time (the index's score).
# Answers {1, used}: taken and recorded; {0, used}: limit used up; {-1, 0}: the set
# is missing, seed it and ask again; {-2, rejected}: the rejected-upload limit is
# reached. Nothing is written unless the answer is 1.
_TAKE_SLOT = """
if ARGV[5] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1, 0}
end
local rejected = redis.call('SCARD', KEYS[2])
if rejected >= tonumber(ARGV[4]) then
  return {-2, rejected}
end
local used = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if used >= tonumber(ARGV[2]) then
    return {0, used}
  end
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  used = used + 1
end
redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[7])
return {1, used}
"""
#: The script's text (loaded by the gateway's script line, `app.script_line`).
TAKE_SLOT_SCRIPT = _TAKE_SLOT
_TAKE_SLOT_SCRIPT = AsyncScript(None, _TAKE_SLOT.encode())  # type: ignore[arg-type]


# Seed a lost day's set from scoring's records, unless it exists again meanwhile.
_SEED_SLOTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

#: Most pages of a participant's submissions read to rebuild one day's count.
_SEED_MAX_PAGES = 10


async def _seed_daily_slots(
    redis_client: Any,
    scoring: ScoringClient,
    daily_key: str,
    rejections_key: str,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    day_start: datetime,
) -> None:
    """Rebuild today's slot set from scoring's records when Redis has none (ADR 0031).

    Redis is a projection: after a flush or a failover to an empty replica the
    daily limit would start again from zero. Scoring keeps every submission, so
    the day's non-rejected ones are added back before a slot is taken, and the
    day's rejected ones to the count of rejected uploads. Without an answer
    from scoring the count goes on from what Redis holds.
    """
    if await redis_client.exists(daily_key):
        return
    ids: list[str] = []
    rejected: list[str] = []
    cursor: str | None = None
    for _ in range(_SEED_MAX_PAGES):
        response = await scoring.submissions(
            competition_id, user_id=user_id, limit=200, cursor=cursor
        )
        if response.status_code != 200:
            return
        page = response.json()
        older = False
        for item in page["items"]:
            if datetime.fromisoformat(item["submitted_at"]) < day_start:
                older = True
                break
            (rejected if item["outcome"] == "rejected" else ids).append(str(item["id"]))
        cursor = page.get("next_cursor")
        if older or not cursor:
            break
    if ids:
        await redis_client.eval(_SEED_SLOTS, 1, daily_key, DAILY_SUBMISSIONS_TTL_SECONDS, *ids)
    if rejected:
        await redis_client.eval(
            _SEED_SLOTS, 1, rejections_key, DAILY_SUBMISSIONS_TTL_SECONDS, *rejected
        )


class SubmissionAccepted(BaseModel):
    """The 202 answer to an upload: scoring follows asynchronously."""

    id: uuid.UUID
    status: Literal["queued"] = "queued"
    competition_id: uuid.UUID
    submitted_at: datetime


class SubmissionError(BaseModel):
    """One reason a file was rejected (SPEC §7.1)."""

    code: str
    message: str
    column: str | None = None
    rows: list[str] = []
    count: int | None = None


class SubmissionView(BaseModel):
    """A submission as its author (or the competition's owner) sees it (SPEC §5.3)."""

    id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    status: Literal["queued", "scored", "rejected", "invalidated"]
    metric: str | None = None
    public_score: float | None = None
    #: Only for the competition's owner, or once the competition has ended.
    private_score: float | None = None
    errors: list[SubmissionError] = []
    submitted_at: datetime
    scored_at: datetime | None = None


class SubmissionPage(BaseModel):
    """One page of submissions, newest first."""

    items: list[SubmissionView]
    next_cursor: str | None


class InvalidateBody(BaseModel):
    """Body of `PATCH .../submissions/{sid}`: the owner takes a submission off the board."""

    model_config = ConfigDict(extra="forbid")

    invalidated: Literal[True]


# --- helpers ---------------------------------------------------------------------


def _queued_key(settings: Settings, submission_id: uuid.UUID | str) -> str:
    return f"{settings.redis_key_prefix}submission:{submission_id}"


def _queued_index_key(settings: Settings, competition_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"{settings.redis_key_prefix}submissions-queued:{competition_id}:{user_id}"


def _require_prediction(competition: CompetitionView) -> None:
    if competition.kind != "prediction":
        raise Problem(
            409,
            "NOT_A_PREDICTION_COMPETITION",
            "Only prediction competitions take files; activity ones count xAPI statements.",
        )


def _received(
    submission_id: uuid.UUID,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    ref: BlobRef,
    now: datetime,
) -> Event:
    """The `submission.received` event of a file stored at `ref`."""
    data = SubmissionReceivedData(
        submission_id=submission_id,
        competition_id=competition_id,
        user_id=user_id,
        blob_key=ref.key,
        sha256=ref.sha256,
        size_bytes=ref.size,
        submitted_at=now,
    )
    return new_event(SubmissionReceived, "gateway", data)


def _view(
    raw: dict[str, Any], competition: CompetitionView | None, user: CurrentUser, now: datetime
) -> SubmissionView:
    """Render scoring's (or the queued) record for `user`, hiding what they may not see."""
    view = SubmissionView.model_validate(raw)
    may_see_private = competition is not None and (
        is_sponsor(competition, user) or has_ended(competition, now)
    )
    if not may_see_private:
        view.private_score = None
    return view


async def _queued(redis_client: RedisDep, settings: Settings, sid: uuid.UUID) -> dict[str, Any]:
    raw = await redis_client.get(_queued_key(settings, sid))
    return json.loads(raw) if raw else {}


async def _take_slot(
    command: Command,
    scripts: Scripts,
    competition: CompetitionView,
    user: CurrentUser,
    submission_id: uuid.UUID,
    now: datetime,
    scoring: ScoringClient,
    settings: Settings,
) -> None:
    """Take one of today's submission slots (ADR 0014) and record the submission queued.

    One script does both; 429 when the slots are used up. Rejected uploads give
    their slot back but are counted on their own: once the day's
    `daily_rejected_upload_limit` is reached, uploads answer 429 too.
    """
    redis_client = scripts.client
    # The daily limit counts per team (SPEC §10.2); a solo participant is a team of one.
    daily_key = daily_submissions_key(
        competition.id, competition.entrant(user.user_id), utc_day(now)
    )
    rejections_key = daily_rejections_key(competition.id, user.user_id, utc_day(now))
    queued_key = _queued_key(settings, submission_id)
    keys = [
        daily_key,
        rejections_key,
        queued_key,
        _queued_index_key(settings, competition.id, user.user_id),
    ]
    limit = competition.daily_submission_limit
    queued = {
        "id": str(submission_id),
        "competition_id": str(competition.id),
        "user_id": str(user.user_id),
        "status": "queued",
        "submitted_at": now.isoformat(),
    }
    arguments: list[str | int | float] = [
        str(submission_id),
        limit if limit is not None else 2**31,
        DAILY_SUBMISSIONS_TTL_SECONDS,
        settings.daily_rejected_upload_limit,
        0,
        json.dumps(queued),
        QUEUED_TTL_SECONDS,
        now.timestamp(),
    ]
    allowed, used = await scripts.run(_TAKE_SLOT_SCRIPT, keys, arguments)
    if int(allowed) == -1:
        # The day's first upload, or Redis lost the set (ADR 0031): seed it, then take.
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        await _seed_daily_slots(
            redis_client,
            scoring,
            daily_key,
            rejections_key,
            competition.id,
            user.user_id,
            day_start,
        )
        arguments[4] = 1
        allowed, used = await scripts.run(_TAKE_SLOT_SCRIPT, keys, arguments)
    if int(allowed) == -2:
        raise _rejected_uploads_exceeded(settings, int(used), now)
    if not int(allowed):
        raise _limit_exceeded(
            f"The daily limit of {limit} submissions is used up; it resets at 00:00 UTC.",
            limit or 0,
            int(used),
            now,
            limit_name="daily_submissions",
        )

    async def give_back() -> None:
        await redis_client.delete(queued_key)
        await redis_client.srem(daily_key, str(submission_id))

    command.undo.append(give_back)


def _limit_exceeded(message: str, limit: int, used: int, now: datetime, **extra: Any) -> Problem:
    """The 429 of a used-up daily limit: `{limit, used, resets_at}` and `Retry-After`."""
    resets_at = next_utc_midnight(now)
    retry_after = max(1, int((resets_at - now).total_seconds()))
    return Problem(
        429,
        "RATE_LIMIT_EXCEEDED",
        message,
        extra={"limit": limit, "used": used, "resets_at": resets_at.isoformat(), **extra},
        headers={"Retry-After": str(retry_after)},
    )


def _rejected_uploads_exceeded(settings: Settings, used: int, now: datetime) -> Problem:
    """The 429 once today's rejected uploads reached `daily_rejected_upload_limit`."""
    limit = settings.daily_rejected_upload_limit
    return _limit_exceeded(
        f"{used} uploads were rejected today; the limit of {limit} rejected uploads "
        "is reached and resets at 00:00 UTC. Check the file's format before uploading.",
        limit,
        used,
        now,
        limit_name="daily_rejected_uploads",
    )


async def _discard(blobs: BlobStore, key: str, stored: asyncio.Future[BlobRef]) -> None:
    """Remove the file written for an upload that was refused (a failed write left none)."""
    try:
        await stored
    except Exception:
        return
    await blobs.delete(key)


# --- routes ------------------------------------------------------------------------


@router.post(
    "/v1/competitions/{competition_id}/submissions",
    status_code=202,
    response_model=SubmissionAccepted,
    summary="Upload a prediction file; it is scored asynchronously",
)
async def submit_prediction(
    competition_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="Prediction CSV (id column + prediction)")],
    client: CompetitionsDep,
    scoring: ScoringDep,
    caller: CommanderDep,
    runtime: RuntimeDep,
    scripts: ScriptsDep,
    settings: SettingsDep,
    blobs: BlobDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Queue a submission: 202 `{id, status: "queued"}` once Kafka has `submission.received`."""
    # The caller's checks and the rules (kind, enrollment, window) in one read of the
    # read model; competitions decides what the read model cannot.
    user = caller.user
    competition = await read_model.submit_target(client, scripts, competition_id, user, caller.gate)
    now = datetime.now(UTC)
    data = await read_upload(file, settings.max_submission_bytes)
    fingerprint = f"{competition_id}:{hashlib.sha256(data).hexdigest()}"
    async with accept_command(
        runtime.redis, settings, user, "submission", idempotency_key, fingerprint
    ) as command:
        if command.previous is not None:
            return command.replay()
        submission_id = uuid.uuid4()
        blob_key = submission_blob_key(competition_id, submission_id)
        # The file is written while the slot is taken: the upload waits for the
        # slower of the two, not for both (ADR 0111).
        stored = asyncio.ensure_future(blobs.put(blob_key, data))
        try:
            await _take_slot(
                command, scripts, competition, user, submission_id, now, scoring, settings
            )
        except BaseException:
            await _discard(blobs, blob_key, stored)
            raise
        ref = await stored
        event = _received(submission_id, competition_id, user.user_id, ref, now)
        await command.publish(runtime, event, "submission")
        return await command.accepted(
            SubmissionAccepted(id=submission_id, competition_id=competition_id, submitted_at=now)
        )


@router.get(
    "/v1/submissions/{submission_id}",
    response_model=SubmissionView,
    summary="One of my submissions (or, for the owner, one of the competition's)",
)
async def get_submission(
    submission_id: uuid.UUID,
    client: CompetitionsDep,
    scoring: ScoringDep,
    user: UserDep,
    redis_client: RedisDep,
    settings: SettingsDep,
) -> Response:
    """Status, scores and errors; others' submissions are 404 (SPEC §8)."""
    got = await scoring.submission(submission_id)
    if got.status_code == 200:
        raw = got.json()
    elif got.status_code == 404:
        raw = await _queued(redis_client, settings, submission_id)
    else:
        return relay(got)
    not_found = Problem(404, "SUBMISSION_NOT_FOUND", "No such submission.")
    if not raw:
        raise not_found
    competition: CompetitionView | None
    try:
        competition = await client.competition(uuid.UUID(raw["competition_id"]), user)
    except Relayed:
        competition = None  # e.g. the author left a private competition: no owner view
    is_author = raw["user_id"] == str(user.user_id)
    if not is_author and (competition is None or not is_sponsor(competition, user)):
        raise not_found
    view = _view(raw, competition, user, datetime.now(UTC))
    return JSONResponse(view.model_dump(mode="json"))


@router.get(
    "/v1/competitions/{competition_id}/submissions",
    response_model=SubmissionPage,
    summary="My submissions to a competition (the owner sees every one)",
)
async def list_submissions(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    scoring: ScoringDep,
    user: UserDep,
    redis_client: RedisDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Newest first; on the first page, queued ones scoring has not seen yet are included."""
    competition = await client.competition(competition_id, user)
    sponsor = is_sponsor(competition, user)
    got = await scoring.submissions(
        competition_id, user_id=None if sponsor else user.user_id, limit=limit, cursor=cursor
    )
    if got.status_code != 200:
        return relay(got)
    page = got.json()
    now = datetime.now(UTC)
    items = [_view(raw, competition, user, now) for raw in page["items"]]
    if cursor is None and not sponsor:
        known = {str(item.id) for item in items}
        index_key = _queued_index_key(settings, competition_id, user.user_id)
        members = await redis_client.zrevrange(index_key, 0, -1)
        waiting = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        for sid in waiting:
            if sid in known:
                await redis_client.zrem(index_key, sid)  # scoring has it now
                continue
            raw = await _queued(redis_client, settings, uuid.UUID(sid))
            if raw:
                items.append(_view(raw, competition, user, now))
        items.sort(key=lambda item: item.submitted_at, reverse=True)
    body = SubmissionPage(items=items, next_cursor=page.get("next_cursor"))
    return JSONResponse(body.model_dump(mode="json"))


@router.patch(
    "/v1/competitions/{competition_id}/submissions/{submission_id}",
    status_code=202,
    summary="Invalidate a submission (owner); the leaderboard recomputes",
    response_model=InvalidationAccepted,
)
async def invalidate_submission(
    competition_id: uuid.UUID,
    submission_id: uuid.UUID,
    body: InvalidateBody,
    client: CompetitionsDep,
    scoring: ScoringDep,
    user: UserDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    auditor: AuditorDep,
) -> Response:
    """Publish `submission.invalidated`; 202 once Kafka has it. Audited."""
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user)
    got = await scoring.submission(submission_id)
    if got.status_code == 200:
        raw = got.json()
    elif got.status_code == 404:
        raw = await _queued(runtime.redis, settings, submission_id)
    else:
        return relay(got)
    if not raw or raw["competition_id"] != str(competition_id):
        raise Problem(404, "SUBMISSION_NOT_FOUND", "No such submission in this competition.")
    event = new_event(
        SubmissionInvalidated,
        "gateway",
        SubmissionInvalidatedData(
            submission_id=submission_id,
            competition_id=competition_id,
            user_id=uuid.UUID(raw["user_id"]),
            invalidated_by=user.user_id,
        ),
    )
    await publish(runtime, event, "invalidation")
    await auditor(
        user, "submission.invalidated", "submission", submission_id,
        before={"status": raw.get("status")},
        after={"status": "invalidated", "competition_id": str(competition_id)},
    )  # fmt: skip
    return JSONResponse({"id": str(submission_id), "status": "invalidated"}, status_code=202)


@router.post(
    "/v1/competitions/{competition_id}/rescore",
    status_code=202,
    summary="Rescore every submission against the current answer key (owner)",
    response_model=RescoreAccepted,
)
async def rescore(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    auditor: AuditorDep,
) -> Response:
    """Publish `competition.rescore_requested`; 202 once Kafka has it. Audited."""
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user)
    _require_prediction(competition)
    event = new_event(
        RescoreRequested,
        "gateway",
        RescoreData(competition_id=competition_id, requested_by=user.user_id),
    )
    await publish(runtime, event, "rescore")
    await auditor(user, "competition.rescore_requested", "competition", competition_id)
    return JSONResponse(
        {"competition_id": str(competition_id), "status": "queued"}, status_code=202
    )


@router.put(
    "/v1/competitions/{competition_id}/answer-key",
    status_code=202,
    summary="Upload (or replace) the answer key: a CSV with the id and target columns (owner)",
    response_model=AnswerKeyAccepted,
)
async def upload_answer_key(
    competition_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="Answer key CSV (id column + target column)")],
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    blobs: BlobDep,
    auditor: AuditorDep,
) -> Response:
    """Store the key and publish `competition.answer_key_uploaded`; scoring loads it (audited).

    The gateway publishes the fact itself after checking ownership, as it does
    for `submission.received`: it is the one holding the file, and the
    competitions service keeps no state about answer keys.
    """
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user)
    _require_prediction(competition)
    data = await read_upload(file, settings.max_submission_bytes)
    if not data.strip():
        raise Problem(422, "EMPTY_FILE", "The answer key is empty.")
    digest = hashlib.sha256(data).hexdigest()
    ref = await blobs.put(answer_key_blob_key(competition_id, digest), data)
    event = new_event(
        AnswerKeyUploaded,
        "gateway",
        AnswerKeyData(
            competition_id=competition_id,
            blob_key=ref.key,
            sha256=ref.sha256,
            uploaded_by=user.user_id,
        ),
    )
    await publish(runtime, event, "answer key")
    await auditor(
        user, "competition.answer_key_uploaded", "competition", competition_id,
        after={"sha256": ref.sha256, "size_bytes": ref.size},
    )  # fmt: skip
    body = {
        "competition_id": str(competition_id),
        "sha256": ref.sha256,
        "size_bytes": ref.size,
        "status": "processing",
    }
    return JSONResponse(body, status_code=202)


@router.get(
    "/v1/competitions/{competition_id}/answer-key",
    summary="Whether the answer key loaded, and why not (owner)",
    response_model=AnswerKeyState,
)
async def answer_key_status(
    competition_id: uuid.UUID, client: CompetitionsDep, scoring: ScoringDep, user: UserDep
) -> Response:
    """Relay scoring's view of the key: `ready` or `invalid` with errors; 404 before upload."""
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user)
    return relay(await scoring.answer_key(competition_id))


@router.get(
    "/v1/competitions/{competition_id}/submissions/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    summary="Every submission of a competition as CSV or JSON Lines (owner; streamed)",
)
@tells_cells
async def export_submissions(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    scoring: ScoringDep,
    user: UserDep,
    format: Format = "csv",
) -> StreamingResponse:
    """Newest first, as the owner's pages of `GET .../submissions`, plus each author's team."""
    competition = await client.competition(competition_id, user)
    require_sponsor(competition, user, "export")
    teams = await client.request("GET", f"/competitions/{competition_id}/team-members", user)
    if teams.status_code != 200:
        raise Relayed(teams)
    team_of: dict[str, str] = teams.json()["teams"]
    now = datetime.now(UTC)

    async def body() -> AsyncIterator[bytes]:
        if format == "csv":
            yield csv_rows([SUBMISSION_COLUMNS])
        try:
            async with scoring.submissions_export(competition_id) as answer:
                chunk: list[dict[str, Any]] = []
                async for line in answer.aiter_lines():
                    if not line:
                        continue
                    view = _view(json.loads(line), competition, user, now)
                    item = view.model_dump(mode="json")
                    item["team_id"] = team_of.get(item["user_id"])
                    chunk.append(item)
                    if len(chunk) == CHUNK:
                        yield encode(chunk, format, SUBMISSION_COLUMNS)
                        chunk = []
                if chunk:
                    yield encode(chunk, format, SUBMISSION_COLUMNS)
        except httpx.HTTPError as exc:
            # Headers are gone already: end the stream short rather than pretend it is whole.
            raise RuntimeError("the submissions export broke off") from exc

    return download(body(), format, f"submissions-{competition_id}")


@router.get(
    "/v1/submissions/{submission_id}/file",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The file of a submission (its author, the author's team, or the owner)",
)
async def submission_file(
    submission_id: uuid.UUID,
    client: CompetitionsDep,
    scoring: ScoringDep,
    blobs: BlobDep,
    user: UserDep,
    redis_client: RedisDep,
    settings: SettingsDep,
) -> Response:
    """The bytes as uploaded; anyone else gets 404 (SPEC §8)."""
    not_found = Problem(404, "SUBMISSION_NOT_FOUND", "No such submission.")
    got = await scoring.submission(submission_id)
    raw = (
        got.json()
        if got.status_code == 200
        else await _queued(redis_client, settings, submission_id)
    )
    if not raw:
        raise not_found
    competition_id = uuid.UUID(raw["competition_id"])
    try:
        competition = await client.competition(competition_id, user)
    except Relayed:
        raise not_found from None
    allowed = raw["user_id"] == str(user.user_id) or is_sponsor(competition, user)
    if not allowed:
        if competition.viewer is not None and competition.viewer.team_id is not None:
            team = await client.request("GET", f"/competitions/{competition_id}/teams/mine", user)
            members = {m["user_id"] for m in team.json().get("members", [])}
            allowed = team.status_code == 200 and raw["user_id"] in members
    if not allowed:
        raise not_found
    try:
        data = await blobs.get(submission_blob_key(competition_id, submission_id))
    except BlobNotFoundError:
        raise not_found from None
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="submission-{submission_id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/v1/competitions/{competition_id}/baseline-submissions",
    status_code=202,
    response_model=SubmissionAccepted,
    summary="Upload a baseline file (owner): scored and shown on the board marked baseline",
)
async def submit_baseline(
    competition_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="Prediction CSV (id column + prediction)")],
    client: CompetitionsDep,
    user: UserDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    blobs: BlobDep,
    auditor: AuditorDep,
) -> Response:
    """Publish `submission.received` as the owner; no enrollment, no daily limit. Audited.

    The board shows the owner's best baseline as a line with `baseline: true`;
    the owner is no participant, so the roster and capacity do not change.
    """
    competition = await client.competition(competition_id, user)
    if not is_sponsor(competition, user) or competition.kind != "prediction":
        raise Problem(403, "NOT_OWNER", "Only the owner of a prediction competition may do this.")
    data = await read_upload(file, settings.max_submission_bytes)
    now = datetime.now(UTC)
    submission_id = uuid.uuid4()
    ref = await blobs.put(submission_blob_key(competition_id, submission_id), data)
    event = _received(submission_id, competition_id, competition.owner_id, ref, now)
    await publish(runtime, event, "baseline submission")
    await auditor(
        user, "competition.baseline_submitted", "competition", competition_id,
        after={"submission_id": str(submission_id), "sha256": ref.sha256},
    )  # fmt: skip
    answer = SubmissionAccepted(id=submission_id, competition_id=competition_id, submitted_at=now)
    return JSONResponse(answer.model_dump(mode="json"), status_code=202)

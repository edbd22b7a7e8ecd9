"""Streamed exports of the public API: leaderboards, submissions, files (SPEC §10.2).

Exports are streamed a page at a time, so a 100,000-row board or submission
list is never held in memory: boards are read from the Redis mirror in
chunks of ranks (the same read as the paged API), submissions come from
scoring's streamed keyset export. Each JSON line equals the item the paged
API answers; CSV has the same fields as columns.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from podium_runtime.blobs import BlobNotFoundError
from podium_runtime.problems import Problem

from podium_gateway.auth import OptionalUserDep, UserDep
from podium_gateway.clients import RedisDep, Relayed, SettingsDep
from podium_gateway.clients.competitions import CompetitionsDep, is_sponsor
from podium_gateway.clients.scoring import ScoringDep
from podium_gateway.leaderboard_api import (
    _PAGE,
    LeaderboardEntry,
    Split,
    _board_competition,
    _board_keys,
    _entries,
)
from podium_gateway.submissions_api import BlobDep, _queued, _view, submission_blob_key

router = APIRouter(tags=["exports"])

Format = Literal["csv", "jsonl"]
#: Board entries read from Redis per step of an export.
CHUNK = 1000

BOARD_COLUMNS = (
    "rank",
    "user_id",
    "display_name",
    "score",
    "submissions",
    "last_submission_at",
    "team_id",
)
SUBMISSION_COLUMNS = (
    "id",
    "team_id",
    "user_id",
    "submitted_at",
    "status",
    "metric",
    "public_score",
    "private_score",
    "scored_at",
    "errors",
)

_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _csv_line(values: Iterable[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow("" if v is None else v for v in values)
    return out.getvalue().encode()


def _encode(rows: list[dict[str, Any]], fmt: Format, columns: tuple[str, ...]) -> bytes:
    """Encode a chunk of API items as JSON lines or CSV rows (no header)."""
    if fmt == "jsonl":
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    encoded = []
    for row in rows:
        values = [
            json.dumps(row.get(c)) if isinstance(row.get(c), list | dict) else row.get(c)
            for c in columns
        ]
        encoded.append(_csv_line(values))
    return b"".join(encoded)


def _download(body: AsyncIterator[bytes], fmt: Format, name: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/v1/competitions/{competition_id}/leaderboard/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    summary="The whole leaderboard as CSV or JSON Lines (streamed)",
)
async def export_leaderboard(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: OptionalUserDep,
    redis_client: RedisDep,
    format: Format = "csv",
    split: Split = "public",
) -> StreamingResponse:
    """Every entry in rank order, the same as the pages of `GET .../leaderboard`.

    Who may read it is who may read the board: the private split after the end
    (the owner and admins earlier); private competitions are members only.
    """
    competition = await _board_competition(client, competition_id, user, split)
    keys, _ = _board_keys(competition, competition_id, split, "all", None)

    async def body() -> AsyncIterator[bytes]:
        if format == "csv":
            yield _csv_line(BOARD_COLUMNS)
        offset = 0
        while True:
            rows, _meta = await redis_client.eval(_PAGE, 3, *keys, offset, offset + CHUNK - 1)
            entries: list[LeaderboardEntry] = _entries(rows)
            if not entries:
                return
            yield _encode([e.model_dump(mode="json") for e in entries], format, BOARD_COLUMNS)
            offset += CHUNK

    return _download(body(), format, f"leaderboard-{competition_id}-{split}")


@router.get(
    "/v1/competitions/{competition_id}/submissions/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    summary="Every submission of a competition as CSV or JSON Lines (owner; streamed)",
)
async def export_submissions(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    scoring: ScoringDep,
    user: UserDep,
    format: Format = "csv",
) -> StreamingResponse:
    """Newest first, as the owner's pages of `GET .../submissions`, plus each author's team."""
    competition = await client.competition(competition_id, user)
    if not is_sponsor(competition, user):
        raise Problem(403, "NOT_OWNER", "Only the competition's owner or an admin may export.")
    teams = await client.request("GET", f"/competitions/{competition_id}/team-members", user)
    if teams.status_code != 200:
        raise Relayed(teams)
    team_of: dict[str, str] = teams.json()["teams"]
    now = datetime.now(UTC)

    async def body() -> AsyncIterator[bytes]:
        if format == "csv":
            yield _csv_line(SUBMISSION_COLUMNS)
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
                        yield _encode(chunk, format, SUBMISSION_COLUMNS)
                        chunk = []
                if chunk:
                    yield _encode(chunk, format, SUBMISSION_COLUMNS)
        except httpx.HTTPError as exc:
            # Headers are gone already: end the stream short rather than pretend it is whole.
            raise RuntimeError("the submissions export broke off") from exc

    return _download(body(), format, f"submissions-{competition_id}")


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

"""Leaderboard routes of the public API, read straight from Redis (SPEC §5.2, §6, §7.2).

The competitions service ranks the boards in Postgres and mirrors each one to
Redis (key formats in `podium_contracts.redis_keys`: a sorted set of the lines
in rank order, whose positions are the ranks, a hash of the lines, a meta hash).
Visibility comes from the competitions read model (`podium_gateway.read_model`,
ADR 0041), read in the same round trip as a prediction board's page, or from the
internal API when it misses: anonymous visitors read public competitions' boards,
private competitions are members only (404 to strangers), and the private split
appears after `ends_at` (the owner and admins may look earlier).

Activity competitions (SPEC §7.3) have one board per period: `all`, and a
board per local day, week (from Monday) and month in the competition's time
zone; `date=` picks which one (default: the current one there).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from podium_contracts.read_models import BoardEntry, BoardMeta
from podium_contracts.redis_keys import (
    activity_board_keys,
    leaderboard_entries_key,
    leaderboard_meta_key,
    leaderboard_ranks_key,
    period_start,
)
from podium_runtime.cursors import CursorCodec
from podium_runtime.exports import Format, csv_rows, download, encode
from podium_runtime.problems import Problem
from podium_runtime.script_line import Scripts
from podium_runtime.timezones import local_day
from pydantic import BaseModel

from podium_gateway import read_model
from podium_gateway.auth import CurrentUser, Gate, OptionalUserDep, ReaderDep, UserDep
from podium_gateway.clients import ScriptsDep
from podium_gateway.clients.competitions import (
    CompetitionsDep,
    CompetitionView,
    has_ended,
    is_sponsor,
)
from podium_gateway.exports import BOARD_COLUMNS, CHUNK, tells_cells
from podium_gateway.rendered import Rendered

router = APIRouter(tags=["leaderboards"])

Split = Literal["public", "private"]
Period = Literal["all", "day", "week", "month"]
#: `date=`: which day, week or month board of an activity competition to show.
DayQuery = Annotated[
    date | None,
    Query(
        alias="date",
        description="A local day in the period to show (activity; default: today there)",
    ),
]

#: Board pages rendered from the rows and meta read, per page asked for (ADR 0061).
PAGES: Rendered[bytes] = Rendered(256)


class LeaderboardEntry(BoardEntry):
    """One participant's line (the shape competitions mirrors into Redis)."""


class Leaderboard(BaseModel):
    """One page of a board."""

    entries: list[LeaderboardEntry]
    total: int
    as_of: datetime | None
    split: Split
    period: Period
    #: First local day of the day/week/month board shown (activity competitions).
    period_start: date | None = None
    next_cursor: str | None = None


class AroundMe(Leaderboard):
    """The caller's neighbourhood on a board; `rank` is null when they are not on it."""

    rank: int | None


#: Board pages continue at an offset into the ranks.
BOARD_CURSOR = CursorCodec(int)


async def _board_competition(
    client: CompetitionsDep,
    scripts: Scripts,
    competition_id: uuid.UUID,
    user: CurrentUser | None,
    split: Split,
    page: read_model.PageRead | None = None,
    gate: Gate | None = None,
) -> tuple[CompetitionView, Any]:
    """Check the caller may read this board; return the competition and `page` if read with it.

    Problems (404 for a stranger to a private competition, ...) are relayed; `gate`:
    the caller's checks still to make, in the same read.
    """
    competition, rows = await read_model.competition(
        client, scripts, competition_id, user, page, gate
    )
    if split == "private" and competition.kind == "activity":
        raise Problem(
            422,
            "SPLIT_NOT_SUPPORTED",
            "Activity leaderboards have no private split; use split=public.",
        )
    if split == "private":
        ended = has_ended(competition, datetime.now(UTC))
        if not ended and not is_sponsor(competition, user):
            raise Problem(
                403,
                "PRIVATE_LEADERBOARD_HIDDEN",
                "The private leaderboard appears when the competition ends.",
            )
    return competition, rows


def _board_keys(
    competition: CompetitionView,
    competition_id: uuid.UUID,
    split: Split,
    period: Period,
    day: date | None,
) -> tuple[tuple[str, str, str], date | None]:
    """Return the Redis keys of the board asked for, and its first local day."""
    if competition.kind == "activity":
        if day is None:
            day = local_day(datetime.now(UTC), competition.timezone)
        start = period_start(period, day)
        return activity_board_keys(competition_id, period, start), start
    if period != "all":
        raise Problem(
            422,
            "PERIOD_NOT_SUPPORTED",
            "Prediction leaderboards rank the best submission over the whole competition; "
            "use period=all.",
        )
    keys = (
        leaderboard_ranks_key(competition_id, split),
        leaderboard_entries_key(competition_id, split),
        leaderboard_meta_key(competition_id, split),
    )
    return keys, None


def _instant(value: str | None) -> str | None:
    """Render a stored ISO instant as the API does (UTC as `Z`)."""
    if value is None:
        return None
    return value[:-6] + "Z" if value.endswith("+00:00") else value


def _rows(joined: bytes | None) -> list[bytes]:
    """Return the rows of a page read (`read_model.PAGE_SCRIPT`), in rank order."""
    return joined.split(b"\n") if joined else []


def _entries(rows: list[bytes], offset: int) -> list[dict[str, Any]]:
    """Return the stored lines as `LeaderboardEntry` documents, without re-validating them.

    Competitions wrote each row from a `BoardEntry` (`to_json`), without its rank: a
    row's rank is its position, the page's `offset` plus its index (ADR 0091); an empty
    row is a line the page read found no entry for. Only the rank, the defaults the
    stored JSON leaves out and the UTC spelling differ from the answer's shape.
    """
    entries = []
    for index, row in enumerate(rows):
        if not row:
            continue
        entry = {"rank": offset + index + 1, **json.loads(row)}
        entry["last_submission_at"] = _instant(entry["last_submission_at"])
        entry.setdefault("team_id", None)
        entry.setdefault("members", None)
        entry.setdefault("baseline", False)
        entries.append(entry)
    return entries


def _page(
    entries: list[dict[str, Any]],
    total: int,
    as_of: datetime | None,
    split: Split,
    period: Period,
    start: date | None,
) -> dict[str, Any]:
    """Return the fields every board answer has, as `Leaderboard` renders them."""
    return {
        "entries": entries,
        "total": total,
        "as_of": _instant(as_of.isoformat()) if as_of else None,
        "split": split,
        "period": period,
        "period_start": start.isoformat() if start else None,
    }


def _meta(meta: list[Any]) -> tuple[datetime | None, int]:
    board = BoardMeta.from_values(meta)
    return board.as_of, board.total


@router.get(
    "/v1/competitions/{competition_id}/leaderboard",
    response_model=Leaderboard,
    summary="A competition's leaderboard (anonymous visitors may read public ones)",
)
async def leaderboard(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    reader: ReaderDep,
    scripts: ScriptsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    split: Split = "public",
    period: Period = "all",
    day: DayQuery = None,
) -> Response:
    """Ranks 1..N: best score (prediction) or most points (activity); ties to the earlier."""
    offset = BOARD_CURSOR.decode(cursor)[0] if cursor else 0
    guessed = prediction_page(competition_id, split, offset, limit)
    competition, page = await _board_competition(
        client, scripts, competition_id, reader.user, split, guessed, reader.gate
    )
    keys, start = _board_keys(competition, competition_id, split, period, day)
    if page is None or keys != guessed[0]:
        page = await scripts.client.eval(read_model.PAGE_SCRIPT, 3, *keys, *guessed[1])
    return Response(page_body(page, split, period, start, offset, limit), media_type=JSON)


#: The media type of a board page (`Response(media_type=...)`, the edge's read path too).
JSON = "application/json"


def prediction_page(
    competition_id: uuid.UUID, split: Split, offset: int, limit: int
) -> read_model.PageRead:
    """Return the page of a prediction board to read alongside the card (its keys are known)."""
    keys = (
        leaderboard_ranks_key(competition_id, split),
        leaderboard_entries_key(competition_id, split),
        leaderboard_meta_key(competition_id, split),
    )
    return keys, (offset, offset + limit - 1)


def page_body(
    page: Any, split: Split, period: Period, start: date | None, offset: int, limit: int
) -> bytes:
    """Return the JSON answer of a page read (`read_model.PAGE_SCRIPT`), rendered once per content.

    Everything the answer is made of is in the key: the bytes read and the page asked for.
    """
    joined, meta = page

    def render() -> bytes:
        as_of, total = _meta(meta)
        entries = _entries(_rows(joined), offset)
        more = offset + len(entries) < total and len(entries) == limit
        body = _page(entries, total, as_of, split, period, start)
        body["next_cursor"] = BOARD_CURSOR.encode(offset + limit) if more else None
        return bytes(JSONResponse(body).body)

    return PAGES.get((joined, *meta, split, period, start, offset, limit), render)


@router.get(
    "/v1/competitions/{competition_id}/leaderboard/around-me",
    response_model=AroundMe,
    summary="The entries either side of the caller",
)
async def around_me(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: UserDep,
    scripts: ScriptsDep,
    window: Annotated[int, Query(ge=0, le=100)] = 5,
    split: Split = "public",
    period: Period = "all",
    day: DayQuery = None,
) -> Response:
    """`window` entries above and below the caller; empty when they are not ranked yet."""
    competition, _ = await _board_competition(client, scripts, competition_id, user, split)
    keys, start = _board_keys(competition, competition_id, split, period, day)
    joined, meta, rank = await scripts.client.eval(
        read_model.AROUND_SCRIPT, 3, *keys, str(user.user_id), window
    )
    as_of, total = _meta(meta)
    # The page starts `window` lines above the caller's (or at the top).
    first = max(0, int(rank) - 1 - window) if rank else 0
    body = _page(_entries(_rows(joined), first), total, as_of, split, period, start)
    body["next_cursor"] = None
    body["rank"] = int(rank) if rank else None
    return JSONResponse(body)


@router.get(
    "/v1/competitions/{competition_id}/leaderboard/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    summary="The whole leaderboard as CSV or JSON Lines (streamed)",
)
@tells_cells
async def export_leaderboard(
    competition_id: uuid.UUID,
    client: CompetitionsDep,
    user: OptionalUserDep,
    scripts: ScriptsDep,
    format: Format = "csv",
    split: Split = "public",
) -> StreamingResponse:
    """Every entry in rank order, the same as the pages of `GET .../leaderboard`.

    Who may read it is who may read the board: the private split after the end
    (the owner and admins earlier); private competitions are members only.
    """
    competition, _ = await _board_competition(client, scripts, competition_id, user, split)
    keys, _ = _board_keys(competition, competition_id, split, "all", None)

    async def body() -> AsyncIterator[bytes]:
        if format == "csv":
            yield csv_rows([BOARD_COLUMNS])
        offset = 0
        while True:
            joined, _meta = await scripts.client.eval(
                read_model.PAGE_SCRIPT, 3, *keys, offset, offset + CHUNK - 1
            )
            entries = _entries(_rows(joined), offset)
            if not entries:
                return
            yield encode(entries, format, BOARD_COLUMNS)
            offset += CHUNK

    return download(body(), format, f"leaderboard-{competition_id}-{split}")

"""GET /v1/competitions/{id}/leaderboard/stream: a board's changes as Server-Sent Events.

Anyone who may read a board may watch it, anonymous visitors included (SPEC §8:
a public board can be shared or embedded), so this stream needs no token at
all. The competitions service rewrites a board's Redis mirror whole in one
MULTI/EXEC, stamping `as_of` in its meta hash; the stream watches that stamp
(one HGET per interval per open stream) and sends `leaderboard.changed` with
the new `as_of` and `total`. The client then refetches the page it shows, so
one event type serves every page, split and period. The SSE id is the `as_of`
stamp: a client reconnecting with `Last-Event-ID` gets an event at once if the
board moved while it was away.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as redis
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from podium_gateway.auth import OptionalUserDep
from podium_gateway.clients import RedisDep
from podium_gateway.clients.competitions import CompetitionsDep
from podium_gateway.leaderboard_api import DayQuery, Period, Split, _board_competition, _board_keys
from podium_gateway.stream_api import sse, stream_settings

router = APIRouter(tags=["leaderboards"])

#: Seconds between two looks at a board's `as_of` stamp (bounds the on-screen delay).
POLL_SECONDS = 0.1


@router.get(
    "/v1/competitions/{competition_id}/leaderboard/stream",
    summary="A board's changes as Server-Sent Events (anonymous visitors may watch public ones)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def board_stream(
    competition_id: uuid.UUID,
    request: Request,
    client: CompetitionsDep,
    user: OptionalUserDep,
    redis_client: RedisDep,
    split: Split = "public",
    period: Period = "all",
    day: DayQuery = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse:
    """Send `leaderboard.changed` `{as_of, total}` whenever the board is rewritten."""
    competition, _ = await _board_competition(client, redis_client, competition_id, user, split)
    keys, _ = _board_keys(competition, competition_id, split, period, day)
    return StreamingResponse(
        _changes(request, redis_client, keys[2], last_event_id or ""),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _changes(
    request: Request, redis_client: redis.Redis, meta_key: str, seen: str
) -> AsyncIterator[bytes]:
    """Yield an event per new `as_of` of the board, with heartbeats while it is quiet."""
    knobs = stream_settings()
    yield f"retry: {knobs.retry_ms}\n: connected\n\n".encode()
    last_write = time.monotonic()
    while not await request.is_disconnected():
        as_of, total = await redis_client.hmget(meta_key, ["as_of", "total"])
        stamp = as_of.decode() if isinstance(as_of, bytes) else (as_of or "")
        if stamp != seen:
            seen = stamp
            data = {"as_of": stamp or None, "total": int(total) if total else 0}
            # The SSE id line cannot be empty; an empty board has no stamp yet.
            yield _event(data, stamp)
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= knobs.heartbeat_seconds:
            yield b": heartbeat\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)


def _event(data: dict[str, Any], stamp: str) -> bytes:
    if not stamp:
        return sse("leaderboard.changed", data)
    return b"id: " + stamp.encode() + b"\n" + sse("leaderboard.changed", data)

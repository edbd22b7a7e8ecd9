"""GET /v1/competitions/{id}/leaderboard/stream: a board's changes as Server-Sent Events.

Anyone who may read a board may watch it, anonymous visitors included (SPEC §8:
a public board can be shared or embedded), so this stream needs no token at
all. The competitions service writes a board's Redis mirror (whole in one
MULTI/EXEC, or by one delta script), stamping `as_of` in its meta hash, then
publishes the stamp on the board's `board_changes_channel`. The stream waits on
that channel (one pub/sub connection per gateway process, shared through a
`LiveHub`), reads the meta hash when told, and sends `leaderboard.changed` with
the new `as_of` and `total`: pushed, with no polling interval in between. The
client then refetches the page it shows, so one event type serves every page,
split and period. The SSE id is the `as_of` stamp: a client reconnecting with
`Last-Event-ID` gets an event at once if the board moved while it was away.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as redis
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from podium_contracts.redis_keys import board_changes_channel

from podium_gateway.auth import OptionalUserDep
from podium_gateway.clients import RedisDep, ScriptsDep
from podium_gateway.clients.competitions import CompetitionsDep
from podium_gateway.leaderboard_api import DayQuery, Period, Split, _board_competition, _board_keys
from podium_gateway.live_hub import LiveHub, StreamClosedError
from podium_gateway.stream_api import sse, stream_settings

router = APIRouter(tags=["leaderboards"])

#: Board streams a process holds per board; high, since a board is watched by crowds.
MAX_STREAMS_PER_BOARD = 100_000


async def get_board_hub(request: Request, redis_client: RedisDep) -> LiveHub:
    """Return the process's hub of board-change channels, made on first use."""
    hub: LiveHub | None = getattr(request.app.state, "board_hub", None)
    if hub is None:
        hub = LiveHub(redis_client, MAX_STREAMS_PER_BOARD)
        request.app.state.board_hub = hub
    return hub


BoardHubDep = Annotated[LiveHub, Depends(get_board_hub)]


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
    scripts: ScriptsDep,
    hub: BoardHubDep,
    split: Split = "public",
    period: Period = "all",
    day: DayQuery = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse:
    """Send `leaderboard.changed` `{as_of, total}` whenever the board is rewritten."""
    competition, _ = await _board_competition(client, scripts, competition_id, user, split)
    keys, _ = _board_keys(competition, competition_id, split, period, day)
    return StreamingResponse(
        _changes(request, redis_client, hub, keys[2], last_event_id or ""),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _changes(
    request: Request,
    redis_client: redis.Redis,
    hub: LiveHub,
    meta_key: str,
    seen: str,
) -> AsyncIterator[bytes]:
    """Yield an event per new `as_of` of the board, with heartbeats while it is quiet."""
    knobs = stream_settings()
    channel = board_changes_channel(meta_key)
    # Subscribed before the first read of the meta hash, so no change falls between.
    subscription = await hub.open(channel, channel)
    try:
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
            # Wait for the board's next version, or until a heartbeat is due.
            while True:
                wait = max(0.0, knobs.heartbeat_seconds - (time.monotonic() - last_write))
                try:
                    told = await subscription.next(timeout=wait)
                except StreamClosedError:
                    return  # the client reconnects with Last-Event-ID and compares
                if told is not None:
                    break
                yield b": heartbeat\n\n"
                last_write = time.monotonic()
                if await request.is_disconnected():
                    return
    finally:
        await hub.close(subscription)


def _event(data: dict[str, Any], stamp: str) -> bytes:
    if not stamp:
        return sse("leaderboard.changed", data)
    return b"id: " + stamp.encode() + b"\n" + sse("leaderboard.changed", data)

"""GET /v1/stream: the caller's live updates as Server-Sent Events (SPEC §5.6).

The notifier publishes per-user messages on Redis pub/sub; this route relays
the caller's channel only. `notification` events carry the inbox position as
their SSE id: on reconnect with `Last-Event-ID` the missed notifications are
read back from the notifier's inbox before live ones, without duplicates.
Comment lines keep idle connections open through proxies (heartbeats).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from podium_contracts.read_models import LiveMessage
from podium_contracts.redis_keys import live_channel
from podium_runtime.hygiene import ascii_int
from podium_runtime.problems import Problem
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from podium_gateway.auth import UserDep
from podium_gateway.clients import RedisDep
from podium_gateway.clients.notifier import NotifierClient, NotifierDep
from podium_gateway.live_hub import LiveHub, StreamClosedError, StreamLimitError, Subscription

log = logging.getLogger(__name__)
router = APIRouter(tags=["notifications"])

#: Most notifications replayed on one reconnect; older ones stay in the inbox.
MAX_REPLAY = 500


class StreamSettings(BaseSettings):
    """Knobs of the event stream (env prefix `PODIUM_GATEWAY_STREAM_`)."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_GATEWAY_STREAM_", extra="ignore")

    heartbeat_seconds: float = 15.0
    retry_ms: int = 3000
    #: Streams one user may hold open at once in one gateway process (tabs, devices).
    max_per_user: int = Field(default=10, ge=1)


@lru_cache
def stream_settings() -> StreamSettings:
    """Return the stream settings read once from the environment."""
    return StreamSettings()


async def get_live_hub(request: Request, redis_client: RedisDep) -> LiveHub:
    """Return the process's live hub, made on first use (closed with the app)."""
    hub: LiveHub | None = getattr(request.app.state, "live_hub", None)
    if hub is None:
        hub = LiveHub(redis_client, stream_settings().max_per_user)
        request.app.state.live_hub = hub
    return hub


LiveHubDep = Annotated[LiveHub, Depends(get_live_hub)]


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    """Format one Server-Sent Event."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


async def _missed(notifier: NotifierClient, user_id: Any, after: int) -> list[dict[str, Any]]:
    """Read the notifications after inbox position `after`, oldest first (bounded)."""
    items: list[dict[str, Any]] = []
    while len(items) < MAX_REPLAY:
        response = await notifier.notifications(user_id, after=after, limit=100)
        if response.status_code != 200:
            raise Problem(503, "SERVICE_UNAVAILABLE", "The inbox cannot be read; retry shortly.")
        page = response.json()["items"]
        items += page
        if len(page) < 100:
            break
        after = page[-1]["seq"]
    return items


@router.get(
    "/v1/stream",
    summary="My live updates (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        429: {"description": "`TOO_MANY_STREAMS`: the user holds the most streams allowed"},
    },
)
async def stream(
    request: Request,
    user: UserDep,
    notifier: NotifierDep,
    hub: LiveHubDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Stream `notification`, `submission.scored`, `enrollment.updated`, `leaderboard.updated`.

    At most `PODIUM_GATEWAY_STREAM_MAX_PER_USER` streams per user are open at
    once; one more answers 429 `TOO_MANY_STREAMS` with `Retry-After`.
    """
    after: int | None = None
    if last_event_id:
        # Regression: Unicode digits and thousands of digits passed `isdigit()` and gave 500.
        after = ascii_int(last_event_id)
        if after is None:
            raise Problem(422, "INVALID_LAST_EVENT_ID", "Last-Event-ID must be an id we sent.")
    knobs = stream_settings()
    # Subscribe before reading the backlog, so nothing falls between the two.
    try:
        subscription = await hub.open(str(user.user_id), live_channel(user.user_id))
    except StreamLimitError as exc:
        raise Problem(
            429,
            "TOO_MANY_STREAMS",
            f"At most {exc.limit} live streams may be open at once; close one or retry later.",
            extra={"limit": exc.limit},
            headers={"Retry-After": str(max(1, math.ceil(knobs.retry_ms / 1000)))},
        ) from None
    try:
        backlog = await _missed(notifier, user.user_id, after) if after is not None else []
    except BaseException:
        await hub.close(subscription)
        raise
    return StreamingResponse(
        _events(request, hub, subscription, backlog, after or 0, knobs),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request,
    hub: LiveHub,
    subscription: Subscription,
    backlog: list[dict[str, Any]],
    last_seq: int,
    knobs: StreamSettings,
) -> AsyncIterator[bytes]:
    """Yield the backlog, then live messages and heartbeats until the client goes away."""
    try:
        yield f"retry: {knobs.retry_ms}\n: connected\n\n".encode()
        for item in backlog:
            last_seq = max(last_seq, int(item["seq"]))
            yield sse("notification", item, item["seq"])
        last_write = time.monotonic()
        while not await request.is_disconnected():
            wait = max(0.0, knobs.heartbeat_seconds - (time.monotonic() - last_write))
            try:
                data = await subscription.next(timeout=wait)
            except StreamClosedError:
                return  # the client reconnects and replays what it missed
            if data is None:
                if time.monotonic() - last_write >= knobs.heartbeat_seconds:
                    yield b": heartbeat\n\n"
                    last_write = time.monotonic()
                continue
            try:
                live = LiveMessage.model_validate_json(data)
                event, data, event_id = live.event, live.data, live.id
            except ValueError:
                log.warning("malformed live message dropped")
                continue
            if event_id is not None:
                if int(event_id) <= last_seq:
                    continue  # already replayed from the inbox
                last_seq = int(event_id)
            yield sse(event, data, event_id)
            last_write = time.monotonic()
    except asyncio.CancelledError:
        raise
    finally:
        await hub.close(subscription)

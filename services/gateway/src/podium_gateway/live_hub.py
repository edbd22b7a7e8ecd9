"""One Redis pub/sub connection per gateway process, fanned out to the open SSE streams.

Every `GET /v1/stream` used to hold a Redis connection of its own, so open
streams were bounded only by Redis's client limit. The hub subscribes a
user's live channel once, however many streams of that user are open in this
process, reads every channel on one connection, and hands each message to the
streams of its channel in memory (ADR 0015, ADR 0057). It also caps how many
streams one user may hold open in this process.

When the connection fails, every stream is ended: clients reconnect with
`Last-Event-ID` and the inbox replays what they missed, as after any drop. A
stream that does not keep up (its buffer is full) is ended the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from typing import Any

import redis.asyncio as redis
from podium_runtime.failures import FailureLog

log = logging.getLogger(__name__)

#: Live messages buffered for one stream before it is ended as too slow.
STREAM_BUFFER = 256
#: Seconds the reader waits for a message before looking at its subscriptions again.
READ_SECONDS = 1.0


class StreamClosedError(Exception):
    """The hub ended this stream (connection lost, or the client did not keep up)."""


class StreamLimitError(Exception):
    """The user already holds the most streams allowed in this process."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open streams per user")
        self.limit = limit


class Subscription:
    """One open stream's view of its user's channel: a bounded buffer of messages."""

    def __init__(self, user_key: str, channel: str) -> None:
        self.user_key = user_key
        self.channel = channel
        self.closed = False
        self._items: deque[Any] = deque()
        self._ready = asyncio.Event()

    def push(self, data: Any) -> None:
        """Buffer a message; a stream that fell STREAM_BUFFER messages behind is ended."""
        if len(self._items) >= STREAM_BUFFER:
            self.close()
            return
        self._items.append(data)
        self._ready.set()

    def close(self) -> None:
        """End the stream; `next()` raises once the buffer is drained."""
        self.closed = True
        self._ready.set()

    async def next(self, timeout: float) -> Any | None:
        """Return the next message, None after `timeout` seconds without one.

        Raises `StreamClosedError` once the hub ended the stream.
        """
        if self.closed and not self._items:
            raise StreamClosedError
        if not self._items:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        if self._items:
            return self._items.popleft()
        raise StreamClosedError


class LiveHub:
    """Shares one pub/sub connection among the streams of a process; caps streams per user."""

    def __init__(self, client: redis.Redis, max_streams_per_user: int) -> None:
        self.client = client
        self.max_streams_per_user = max_streams_per_user
        self._pubsub: Any = None
        self._streams: dict[str, set[Subscription]] = {}
        self._subscribed: set[str] = set()
        self._per_user: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._failures = FailureLog(log)

    @property
    def open_streams(self) -> int:
        """How many streams are open in this process."""
        return sum(self._per_user.values())

    def streams_of(self, user_key: str) -> int:
        """How many streams `user_key` holds open in this process."""
        return self._per_user[user_key]

    async def open(self, user_key: str, channel: str) -> Subscription:
        """Register a stream and make sure its channel is subscribed.

        Raises `StreamLimitError` when the user holds `max_streams_per_user`
        already, and the Redis error when the channel cannot be subscribed.
        """
        if self._per_user[user_key] >= self.max_streams_per_user:
            raise StreamLimitError(self.max_streams_per_user)
        subscription = Subscription(user_key, channel)
        self._per_user[user_key] += 1
        self._streams.setdefault(channel, set()).add(subscription)
        try:
            await self._sync(channel)
        except BaseException:
            await self.close(subscription)
            raise
        self._start_reader()
        return subscription

    async def close(self, subscription: Subscription) -> None:
        """Forget a stream; unsubscribe its channel once no stream of it is left."""
        subscription.close()
        streams = self._streams.get(subscription.channel)
        if streams is None or subscription not in streams:
            return
        streams.discard(subscription)
        if not streams:
            del self._streams[subscription.channel]
        self._per_user[subscription.user_key] -= 1
        if self._per_user[subscription.user_key] <= 0:
            del self._per_user[subscription.user_key]
        try:
            await self._sync(subscription.channel)
        except Exception as exc:  # the connection is reset by the reader anyway
            self._failures.log(logging.WARNING, "live channel not unsubscribed", exc)

    async def _sync(self, channel: str) -> None:
        """Bring the channel's subscription in line with its open streams (serialised)."""
        async with self._lock:
            wanted = channel in self._streams
            if wanted and channel not in self._subscribed:
                if self._pubsub is None:
                    self._pubsub = self.client.pubsub()
                await self._pubsub.subscribe(channel)
                self._subscribed.add(channel)
            elif not wanted and channel in self._subscribed:
                self._subscribed.discard(channel)
                if self._pubsub is not None:
                    await self._pubsub.unsubscribe(channel)

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="live-hub")

    async def _read(self) -> None:
        """Hand every message to the streams of its channel until no channel is left."""
        while self._subscribed or self._streams:
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=READ_SECONDS
                )
                self._failures.recovered()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures.log(logging.WARNING, "live connection lost; streams ended", exc)
                await self._reset()
                return
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            for subscription in list(self._streams.get(channel, ())):
                subscription.push(message["data"])

    async def _reset(self) -> None:
        """End every stream and drop the connection (clients reconnect and replay)."""
        async with self._lock:
            for streams in self._streams.values():
                for subscription in streams:
                    subscription.close()
            self._streams.clear()
            self._per_user.clear()
            self._subscribed.clear()
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception as exc:
                self._failures.log(logging.DEBUG, "closing the live connection failed", exc)

    async def aclose(self) -> None:
        """Stop the reader and close the connection (at shutdown)."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._reset()

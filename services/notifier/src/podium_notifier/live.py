"""The live channel: messages on a Redis pub/sub channel per user, relayed by the gateway as SSE.

Messages are published only after the transaction that created them commits,
so a client never sees a notification that was rolled back. `notification`
messages carry the inbox `seq` as their id, which the gateway uses as the SSE
event id and resumes from (Last-Event-ID); the other kinds are transient.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import redis.asyncio as redis
from podium_contracts.read_models import LiveMessage
from podium_contracts.redis_keys import live_channel
from podium_runtime.db import after_commit
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

#: Key in `session.info` of the live messages waiting for the session's commit.
_PENDING = "podium_notifier_live"


class LivePublisher:
    """Publishes per-user live messages after commit, without blocking the consumer.

    The messages of one unit of work (one event, or a whole batch of them) go out
    in one Redis pipeline after commit, in the order they were added: one
    connection and one round trip however many notifications a batch created.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._pending: set[asyncio.Task[None]] = set()

    def publish_after_commit(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        event: str,
        data: dict[str, Any],
        event_id: int | None = None,
    ) -> None:
        """Publish `{event, id?, data}` to the user's channel once the session commits."""
        message = LiveMessage(event=event, id=event_id, data=data).to_json()
        waiting: list[tuple[str, str]] | None = session.info.get(_PENDING)
        if waiting is None:
            waiting = session.info[_PENDING] = []
            messages = waiting

            def schedule() -> None:
                session.info.pop(_PENDING, None)
                task = asyncio.get_running_loop().create_task(self._publish(messages))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

            after_commit(session, schedule)
        waiting.append((live_channel(user_id), message))

    async def _publish(self, messages: list[tuple[str, str]]) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.publish(channel, message)
                await pipe.execute()
        except Exception:
            # Live delivery is best effort: the inbox row is durable and SSE resumes from it.
            log.warning("live publish failed", exc_info=True)

    async def drain(self) -> None:
        """Wait for the publishes in flight (shutdown and tests)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

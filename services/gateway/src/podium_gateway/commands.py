"""Accepting a command: the one sequence behind every 202 of the gateway (ADR 0010, 0011).

A command (an upload, a join) is accepted in four steps: claim the caller's
`Idempotency-Key`, record what a read right after the 202 must already show
(in Redis), publish the command event and wait for the broker's
acknowledgement, then store and return the 202 answer. If any step fails,
everything recorded so far is undone in reverse order and the key is
released, so the client may simply retry:

    async with accept_command(redis, settings, user, "join", key, fingerprint) as command:
        if command.previous is not None:
            return command.replay()
        await command.record(redis.set(pending, ...), undo=lambda: redis.delete(pending))
        await command.publish(runtime, event, "join request")
        return await command.accepted(answer)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as redis
from fastapi.responses import JSONResponse
from podium_contracts.envelope import Event
from podium_runtime.runtime import ServiceRuntime
from pydantic import BaseModel

from podium_gateway import idempotency
from podium_gateway.auth import CurrentUser
from podium_gateway.clients import publish
from podium_gateway.config import Settings

T = TypeVar("T")
Undo = Callable[[], Awaitable[Any]]


@dataclass
class Command:
    """One command being accepted: its idempotency claim and the steps to undo on failure."""

    redis: redis.Redis
    claim: str | None
    fingerprint: str
    #: The 202 answer an earlier request with the same key already got, if any.
    previous: dict[str, Any] | None
    undo: list[Undo] = field(default_factory=list)
    #: True once the broker acknowledged the event: from then on nothing is undone.
    published: bool = False

    def replay(self) -> JSONResponse:
        """Answer a retry with the stored 202 answer."""
        return JSONResponse(self.previous, status_code=202)

    async def record(self, step: Awaitable[T], *, undo: Undo) -> T:
        """Run one step whose effect must vanish if the command is not accepted."""
        result = await step
        self.undo.append(undo)
        return result

    async def publish(self, runtime: ServiceRuntime, event: Event, what: str) -> None:
        """Publish the command event; returns once the broker acknowledged (else 503)."""
        await publish(runtime, event, what)
        self.published = True

    async def accepted(self, answer: BaseModel) -> JSONResponse:
        """Store the 202 answer under the key (for retries) and return it."""
        return await idempotency.accepted(self.redis, self.claim, self.fingerprint, answer)


@asynccontextmanager
async def accept_command(
    redis_client: redis.Redis,
    settings: Settings,
    user: CurrentUser,
    name: str,
    idempotency_key: str | None,
    fingerprint: str,
) -> AsyncIterator[Command]:
    """Claim the key, run the block, and on any error undo its steps and release the key."""
    claim, previous = await idempotency.claim(
        redis_client, settings, user, name, idempotency_key, fingerprint
    )
    command = Command(redis_client, claim, fingerprint, previous)
    try:
        yield command
    except BaseException:
        if command.published:
            raise  # the command is on its way: its records stand
        # Nothing reached Kafka: what was recorded goes away, and a retry may claim the key.
        for undo in reversed(command.undo):
            await undo()
        await idempotency.release(redis_client, claim)
        raise

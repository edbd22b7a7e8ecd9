"""`Idempotency-Key` on the gateway's commands (joins, uploads): one answer per key.

The first request with a key claims it in Redis and stores its 202 answer when
done; a retry with the same key and the same request gets that answer again, a
different request with it is refused. Keys are scoped per user and command, so
one caller's key can never replay another caller's answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from typing import Any

import redis.asyncio as redis
from fastapi.responses import JSONResponse
from podium_runtime.problems import Problem
from pydantic import BaseModel

from podium_gateway.auth import CurrentUser
from podium_gateway.config import Settings

#: How long an `Idempotency-Key` answer is kept (the common 24 h of payment APIs).
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
#: How long a retry waits for the first request with the same key to finish publishing.
IDEMPOTENCY_WAIT_SECONDS = 5.0
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


async def _claim(redis_client: redis.Redis, key: str, fingerprint: str) -> dict[str, Any] | None:
    """Claim `key` for this request; return the stored answer when a previous one finished."""
    claim = json.dumps({"fingerprint": fingerprint, "response": None})
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    while True:
        if await redis_client.set(key, claim, nx=True, ex=IDEMPOTENCY_TTL_SECONDS):
            return None
        raw = await redis_client.get(key)
        if raw is None:
            continue  # the first request failed and released the key: claim it again
        stored = json.loads(raw)
        if stored["fingerprint"] != fingerprint:
            raise Problem(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used for a different request.",
            )
        if stored["response"] is not None:
            return stored["response"]  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise Problem(
                409,
                "IDEMPOTENCY_KEY_IN_USE",
                "A request with this Idempotency-Key is still in progress; retry shortly.",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(0.05)


async def claim(
    redis_client: redis.Redis,
    settings: Settings,
    user: CurrentUser,
    command: str,
    idempotency_key: str | None,
    fingerprint: str,
) -> tuple[str | None, dict[str, Any] | None]:
    """Check and claim the caller's `Idempotency-Key` for one command.

    Returns the Redis key holding the claim (None without a header) and the
    answer a previous request with this key already gave (None if there is none yet).
    """
    if idempotency_key is None:
        return None, None
    if not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise Problem(
            422,
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        )
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    key = f"{settings.redis_key_prefix}idem:{command}:{user.user_id}:{digest}"
    return key, await _claim(redis_client, key, fingerprint)


async def release(redis_client: redis.Redis, key: str | None) -> None:
    """Free a claim whose request published nothing, so a retry may claim it again."""
    if key is not None:
        await redis_client.delete(key)


async def accepted(
    redis_client: redis.Redis, key: str | None, fingerprint: str, answer: BaseModel
) -> JSONResponse:
    """Answer 202 with `answer`, stored first under the claim for retries with the same key."""
    body = answer.model_dump(mode="json")
    if key is not None:
        stored = json.dumps({"fingerprint": fingerprint, "response": body})
        await redis_client.set(key, stored, ex=IDEMPOTENCY_TTL_SECONDS)
    return JSONResponse(body, status_code=202)

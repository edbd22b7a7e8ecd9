"""Atomic statement-id claims in Redis: same id and equivalent content is a no-op, else 409.

xAPI Data 2.3.1 makes statements immutable: a second statement with a stored id
is accepted only when it is equivalent to the first. The gateway must decide this
before answering, on any replica, and before ingest has consumed the first copy
from Kafka, so each replica claims ids atomically in the shared Redis (docs/adr/0004).

A claim maps `id -> content hash` and is first *pending* (published, not yet
acknowledged) and then *committed*. Pending claims expire quickly, so a gateway
that died between claiming and publishing blocks the id only briefly; a retry of
the same statement while pending publishes again (ingest ignores the duplicate).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence

import redis.asyncio as redis
from podium_contracts.redis_keys import xapi_claim_key

log = logging.getLogger(__name__)

#: Seconds a pending claim lives (longer than any publish can take).
PENDING_TTL_SECONDS = 120
#: Seconds a committed claim lives; after that the ingest store answers (docs/adr/0004).
COMMITTED_TTL_SECONDS = 30 * 86400
#: Most claims one queued commit carries to Redis.
COMMIT_BATCH = 2000

# KEYS: claim keys; ARGV: [pending ttl ms, hash1, hash2, ...].
# All-or-nothing: when any id conflicts, nothing is claimed (a batch is accepted whole or not).
_CLAIM = """
local results = {}
local conflict = false
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  local wanted = ARGV[i + 1]
  if not current then
    results[i] = 0
  elseif current == wanted .. ':c' then
    results[i] = 1
  elseif current == wanted .. ':p' then
    results[i] = 2
  else
    results[i] = 3
    conflict = true
  end
end
if conflict then
  return results
end
for i, key in ipairs(KEYS) do
  if results[i] == 0 then
    redis.call('SET', key, ARGV[i + 1] .. ':p', 'PX', ARGV[1])
  end
end
return results
"""

# KEYS: claim keys; ARGV: [ttl ms, hash1, ...]: pending -> committed, only if still ours.
_COMMIT = """
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == ARGV[i + 1] .. ':p' or current == ARGV[i + 1] .. ':c' or not current then
    redis.call('SET', key, ARGV[i + 1] .. ':c', 'PX', ARGV[1])
  end
end
return 1
"""

# KEYS: claim keys; ARGV: hashes: drop pending claims that are still ours.
_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] .. ':p' then
    redis.call('DEL', key)
  end
end
return 1
"""


class ClaimState(enum.IntEnum):
    """What Redis knew about an id before this request."""

    NEW = 0
    SAME_COMMITTED = 1
    SAME_PENDING = 2
    CONFLICT = 3


class StatementClaims:
    """Claims statement ids for content hashes in one Redis shared by every gateway replica."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)
        self._queued: list[tuple[str, str]] = []
        self._committer: asyncio.Task[None] | None = None

    def _keys(self, ids: Sequence[str]) -> list[str]:
        return [xapi_claim_key(i, self.prefix) for i in ids]

    async def claim(self, ids: Sequence[str], hashes: Sequence[str]) -> list[ClaimState]:
        """Claim every id for its hash unless one conflicts; return each id's prior state."""
        result = await self._claim(keys=self._keys(ids), args=[PENDING_TTL_SECONDS * 1000, *hashes])
        return [ClaimState(int(r)) for r in result]

    async def commit(self, ids: Sequence[str], hashes: Sequence[str]) -> None:
        """Mark claims durable once the statements are acknowledged by Kafka (or found stored)."""
        if ids:
            await self._commit(keys=self._keys(ids), args=[COMMITTED_TTL_SECONDS * 1000, *hashes])

    def commit_soon(self, ids: Sequence[str], hashes: Sequence[str]) -> None:
        """Queue claims to become committed; one script call carries all queued ones.

        The answer need not wait for it: a pending claim that is never committed (the
        process died) only expires sooner, a retry meanwhile is published again and
        absorbed by ingest, and afterwards the store answers for the id (docs/adr/0004).
        """
        self._queued.extend(zip(ids, hashes, strict=True))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())

    async def _commit_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued[:COMMIT_BATCH], self._queued[COMMIT_BATCH:]
            ids, hashes = zip(*batch, strict=True)
            try:
                await self.commit(ids, hashes)
            except Exception as exc:  # the claims stay pending and expire (see commit_soon)
                log.warning("claims not committed", extra={"claims": len(ids), "error": repr(exc)})

    async def flush(self) -> None:
        """Wait until every queued commit reached Redis (tests, shutdown)."""
        while self._committer is not None and not self._committer.done():
            await asyncio.shield(self._committer)

    async def release(self, ids: Sequence[str], hashes: Sequence[str]) -> None:
        """Give back pending claims after a failed publish or a conflict found in the store."""
        if ids:
            await self._release(keys=self._keys(ids), args=list(hashes))

    async def exists(self, statement_id: str) -> bool:
        """True when the id is claimed: the statement was accepted or is being accepted."""
        return bool(await self.client.exists(self._keys([statement_id])[0]))

    async def forget(self, ids: Sequence[str]) -> None:
        """Drop the claims of erased statements, so their ids are free again."""
        if ids:
            await self.client.delete(*self._keys(ids))

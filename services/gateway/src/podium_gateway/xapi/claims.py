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
from podium_contracts.redis_keys import xapi_claim_key, xapi_voidings_key
from podium_contracts.statement_index import INDEX_HASHES, packed_positions, statement_index_key
from podium_runtime.script_line import Scripts

from podium_gateway.coalesce import Coalescer

log = logging.getLogger(__name__)

#: Seconds a pending claim lives (longer than any publish can take).
PENDING_TTL_SECONDS = 120
#: Seconds a committed claim lives; after that the ingest store answers (docs/adr/0004).
COMMITTED_TTL_SECONDS = 30 * 86400
#: Most claims one queued commit carries to Redis.
COMMIT_BATCH = 2000
#: Most ids one merged claim call carries (a larger request's batch goes alone).
CLAIM_ROUND_IDS = 2000

# KEYS: claim keys, then the stored-ids index (docs/adr/0059); ARGV: [pending ttl ms,
# positions per id, number of groups G, size of group 1, ..., size of group G,
# hash1, ..., hashN, every id's positions packed (`packed_positions`)]. A group is one
# request's batch, claimed all-or-nothing: when any of its ids conflicts, none of them
# is claimed. Groups are claimed one after another, so merging requests into one call
# (`podium_gateway.coalesce`) answers each as if it had come alone in that order.
# An unclaimed id is answered 0 when a clear bit of the index proves it is not stored,
# else 4 (the store must be asked): every bit set, or no index at all.
_CLAIM = """
local n = #KEYS - 1
local per = tonumber(ARGV[2])
local groups = tonumber(ARGV[3])
local hashes = 3 + groups
local packed = ARGV[hashes + n + 1]
local bits = redis.call('STRLEN', KEYS[n + 1]) * 8
local results = {}
local first = 1
for g = 1, groups do
  local last = first + tonumber(ARGV[3 + g]) - 1
  local conflict = false
  for i = first, last do
    local current = redis.call('GET', KEYS[i])
    local wanted = ARGV[hashes + i]
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
  if not conflict then
    for i = first, last do
      if results[i] == 0 then
        redis.call('SET', KEYS[i], ARGV[hashes + i] .. ':p', 'PX', ARGV[1])
        local maybe = 1
        if bits > 0 then
          for j = 1, per do
            local offset = ((i - 1) * per + j - 1) * 4 + 1
            local position = struct.unpack('>I4', packed, offset) % bits
            if redis.call('GETBIT', KEYS[n + 1], position) == 0 then
              maybe = 0
              break
            end
          end
        end
        if maybe == 1 then
          results[i] = 4
        end
      end
    end
  end
  first = last + 1
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


#: The scripts a claim or a commit runs, for the gateway's script line to load (ADR 0101).
CLAIM_SCRIPTS = (_CLAIM, _COMMIT)


class ClaimState(enum.IntEnum):
    """What Redis knew about an id before this request."""

    NEW = 0
    SAME_COMMITTED = 1
    SAME_PENDING = 2
    CONFLICT = 3
    #: Not claimed, and the index of stored ids cannot rule out that it is stored.
    NEW_MAYBE_STORED = 4

    @property
    def new(self) -> bool:
        """True when this request claimed the id (it was not claimed before)."""
        return self in (ClaimState.NEW, ClaimState.NEW_MAYBE_STORED)


class StatementClaims:
    """Claims statement ids for content hashes in one Redis shared by every gateway replica."""

    def __init__(self, scripts: Scripts, prefix: str) -> None:
        """Claim in the Redis of `scripts` (the app's, `app.state.scripts`): claims and
        commits travel on its script line when it has one (ADR 0101)."""
        client: redis.Redis = scripts.client
        self.client = client
        self.prefix = prefix
        self.scripts = scripts
        self.index_key = statement_index_key(prefix)
        self._claim = client.register_script(_CLAIM)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)
        self._queued: list[tuple[str, str]] = []
        self._committer: asyncio.Task[None] | None = None
        self._claims: Coalescer[tuple[list[str], list[str]], list[ClaimState]] = Coalescer(
            self._claim_round, max_size=CLAIM_ROUND_IDS, size=lambda part: len(part[0])
        )

    def _keys(self, ids: Sequence[str]) -> list[str]:
        return [xapi_claim_key(i, self.prefix) for i in ids]

    async def claim(self, ids: Sequence[str], hashes: Sequence[str]) -> list[ClaimState]:
        """Claim every id for its hash unless one conflicts; return each id's prior state.

        An id claimed now is `NEW` when the index of stored ids proves it is not stored,
        else `NEW_MAYBE_STORED` (ingest's store decides, docs/adr/0004 and 0059).
        Concurrent requests' claims travel together in one script call, each batch
        still all-or-nothing on its own (`podium_gateway.coalesce`).
        """
        return await self._claims.run((list(ids), list(hashes)))

    async def _claim_round(
        self, parts: list[tuple[list[str], list[str]]]
    ) -> list[list[ClaimState]]:
        ids = [i for part, _ in parts for i in part]
        keys = [*self._keys(ids), self.index_key]
        args: list[str | int | bytes] = [
            PENDING_TTL_SECONDS * 1000,
            INDEX_HASHES,
            len(parts),
            *(len(part) for part, _ in parts),
            *(h for _, hashes in parts for h in hashes),
            packed_positions(ids),
        ]
        result = await self.scripts.run(self._claim, keys, args)
        states = [ClaimState(int(r)) for r in result]
        answers: list[list[ClaimState]] = []
        start = 0
        for part, _ in parts:
            answers.append(states[start : start + len(part)])
            start += len(part)
        return answers

    async def commit(self, ids: Sequence[str], hashes: Sequence[str]) -> None:
        """Mark claims durable once the statements are acknowledged by Kafka (or found stored)."""
        if not ids:
            return
        keys = self._keys(ids)
        args: list[str | int] = [COMMITTED_TTL_SECONDS * 1000, *hashes]
        await self.scripts.run(self._commit, keys, args)

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

    async def note_voidings(self, voidings: Sequence[tuple[str, str]]) -> None:
        """Record accepted voiding statements as (target id, voiding statement id) pairs.

        Read-your-writes for voiding: until ingest stored a voiding statement, a GET of
        its target waits for it (`voidings`), so a client that voided a statement never
        reads it back as if it were not voided. The notes outlive any ingest delay.
        """
        if not voidings:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for target, voiding in voidings:
                key = xapi_voidings_key(target, self.prefix)
                pipe.sadd(key, voiding)
                pipe.pexpire(key, PENDING_TTL_SECONDS * 1000)
            await pipe.execute()

    async def voidings(self, statement_id: str) -> list[str]:
        """Return the ids of accepted voiding statements that target `statement_id`."""
        members = await self.client.smembers(xapi_voidings_key(statement_id, self.prefix))
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def forget(self, ids: Sequence[str]) -> None:
        """Drop the claims of erased statements, so their ids are free again."""
        if ids:
            await self.client.delete(*self._keys(ids))

"""The index of stored statement ids the gateway reads before asking the store (ADR 0059).

A Bloom filter in Redis (`podium_contracts.statement_index`). Its invariant: while
the key exists, every statement id committed in `ingest.statements` has all its
bits set. Ingest keeps it by setting the bits of the ids a transaction stores
before that transaction commits (`add`, which never creates the key), and by
building the whole filter from the table while inserts wait (`build`). A filter
that is missing (Redis flushed, key evicted) makes the gateway ask the store about
every id it cannot decide from its claim; `keep_built` rebuilds it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection

from podium_contracts.statement_index import packed_positions, statement_index_key
from podium_runtime.db import Database
from redis.asyncio import Redis

from podium_ingest import repository

log = logging.getLogger(__name__)

#: Ids whose bits one script call sets.
CHUNK = 2000

# KEYS: [index]; ARGV[1]: the positions, packed (`packed_positions`). Only an existing
# filter is written: a missing one is rebuilt whole (a filter holding only later ids
# would claim the earlier ones absent).
_ADD = """
local bits = redis.call('STRLEN', KEYS[1]) * 8
if bits == 0 then
  return 0
end
local packed = ARGV[1]
for offset = 1, #packed, 4 do
  redis.call('SETBIT', KEYS[1], struct.unpack('>I4', packed, offset) % bits, 1)
end
return 1
"""


class StatementIndex:
    """Writes the stored-ids filter of one gateway key prefix."""

    def __init__(self, redis: Redis, prefix: str, bits: int) -> None:
        self.redis = redis
        self.key = statement_index_key(prefix)
        self.bits = bits
        self._add = redis.register_script(_ADD)

    async def add(self, ids: Collection[uuid.UUID]) -> None:
        """Set the bits of ids about to be stored (before their transaction commits)."""
        ordered = list(ids)
        for start in range(0, len(ordered), CHUNK):
            await self._set_bits(self.key, ordered[start : start + CHUNK])

    async def _set_bits(self, key: str, ids: list[uuid.UUID]) -> None:
        """Set the bits of at most `CHUNK` ids in the filter at `key`, in one script call."""
        await self._add(keys=[key], args=[packed_positions(ids)])

    async def exists(self) -> bool:
        """True when the filter is in Redis."""
        return bool(await self.redis.exists(self.key))

    async def build(self, database: Database) -> int:
        """Build the filter from every stored id while inserts wait; return how many ids.

        The table is locked in SHARE mode (reads go on, inserts wait) from the first id
        read until the finished filter replaced the old one, so no id committed meanwhile
        can be missed.
        """
        building = f"{self.key}:building:{uuid.uuid4().hex}"
        count = 0
        try:
            async with database.session() as session:
                # Allocate the whole filter first: its length is its size in bits.
                await self.redis.setbit(building, self.bits - 1, 0)
                chunk: list[uuid.UUID] = []
                async for statement_id in repository.all_statement_ids_locked(session):
                    chunk.append(statement_id)
                    count += 1
                    if len(chunk) == CHUNK:
                        await self._set_bits(building, chunk)
                        chunk = []
                if chunk:
                    await self._set_bits(building, chunk)
                await self.redis.rename(building, self.key)
        finally:
            await self.redis.delete(building)
        return count

    def keep_built(
        self, database: Database, interval_seconds: float
    ) -> Callable[[], Awaitable[None]]:
        """Return the background job that builds the filter whenever it is missing."""

        async def statement_index() -> None:
            while True:
                try:
                    if not await self.exists():
                        count = await self.build(database)
                        log.info("stored-ids index built", extra={"statements": count})
                except Exception:
                    log.exception("stored-ids index not built; retrying")
                await asyncio.sleep(interval_seconds)

        return statement_index

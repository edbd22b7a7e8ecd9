"""Redis mirror of every board, read by the gateway (SPEC §6, §7.2-7.3).

Prediction leaderboards and activity boards share one layout: three keys per
board (key formats in `podium_contracts.redis_keys`, value shapes in
`podium_contracts.read_models`), a sorted set user id -> rank,
a hash user id -> entry JSON with the shared entry shape, and a meta hash with
`as_of` and `total`. A board is rewritten whole in one MULTI/EXEC, so a reader
never sees half of an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import redis.asyncio as redis
from podium_contracts.read_models import BoardEntry, BoardMeta


async def write_board(
    client: redis.Redis,
    keys: tuple[str, str, str],
    entries: Sequence[BoardEntry],
    as_of: datetime,
) -> None:
    """Replace one board, given as its (ranks, entries, meta) keys, atomically."""
    ranks_key, entries_key, meta_key = keys
    async with client.pipeline(transaction=True) as pipe:
        pipe.delete(ranks_key, entries_key)
        if entries:
            pipe.zadd(ranks_key, {str(e.user_id): e.rank for e in entries})
            pipe.hset(entries_key, mapping={str(e.user_id): e.to_json() for e in entries})
        meta = BoardMeta(as_of=as_of, total=len(entries)).to_hash()
        pipe.hset(meta_key, mapping={field: value for field, value in meta.items()})
        await pipe.execute()

"""Redis mirror of every board, read by the gateway (SPEC §6, §7.2-7.3).

Prediction leaderboards and activity boards share one layout: three keys per
board (formats in `podium_contracts.redis_keys`), a sorted set user id -> rank,
a hash user id -> entry JSON with the shared entry shape, and a meta hash with
`as_of` and `total`. A board is rewritten whole in one MULTI/EXEC, so a reader
never sees half of an update.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as redis


@dataclass(frozen=True)
class MirroredEntry:
    """One participant's line in the entry shape the gateway reads from Redis."""

    user_id: uuid.UUID
    rank: int
    display_name: str | None
    score: float
    #: Submissions on a prediction board, statements that earned points on an activity board.
    submissions: int
    last_submission_at: datetime

    def to_json(self) -> str:
        """Return the entry as stored in the board's entries hash."""
        return json.dumps(
            {
                "rank": self.rank,
                "user_id": str(self.user_id),
                "display_name": self.display_name,
                "score": self.score,
                "submissions": self.submissions,
                "last_submission_at": self.last_submission_at.isoformat(),
            }
        )


async def write_board(
    client: redis.Redis,
    keys: tuple[str, str, str],
    entries: Sequence[MirroredEntry],
    as_of: datetime,
) -> None:
    """Replace one board, given as its (ranks, entries, meta) keys, atomically."""
    ranks_key, entries_key, meta_key = keys
    async with client.pipeline(transaction=True) as pipe:
        pipe.delete(ranks_key, entries_key)
        if entries:
            pipe.zadd(ranks_key, {str(e.user_id): e.rank for e in entries})
            pipe.hset(entries_key, mapping={str(e.user_id): e.to_json() for e in entries})
        pipe.hset(meta_key, mapping={"as_of": as_of.isoformat(), "total": len(entries)})
        await pipe.execute()

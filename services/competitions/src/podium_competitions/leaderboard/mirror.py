"""Redis mirror of the boards, read by the gateway (SPEC §6, §7.2).

Each board is three keys (formats in `podium_contracts.redis_keys`): a sorted
set user id -> rank, a hash user id -> entry JSON, and a meta hash with
`as_of` and `total`. A board is rewritten whole in one MULTI/EXEC, so a reader
never sees half of an update.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import redis.asyncio as redis
from podium_contracts.redis_keys import (
    leaderboard_entries_key,
    leaderboard_meta_key,
    leaderboard_ranks_key,
)

from podium_competitions.leaderboard.domain import Entry, Split


class LeaderboardMirror:
    """Writes ranked boards to Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    async def write(
        self,
        competition_id: uuid.UUID,
        split: Split,
        entries: Sequence[Entry],
        names: Mapping[uuid.UUID, str],
        as_of: datetime,
    ) -> None:
        """Replace one board atomically."""
        ranks_key = leaderboard_ranks_key(competition_id, split)
        entries_key = leaderboard_entries_key(competition_id, split)
        meta_key = leaderboard_meta_key(competition_id, split)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(ranks_key, entries_key)
            if entries:
                pipe.zadd(ranks_key, {str(e.user_id): e.rank for e in entries})
                pipe.hset(
                    entries_key,
                    mapping={
                        str(e.user_id): json.dumps(
                            {
                                "rank": e.rank,
                                "user_id": str(e.user_id),
                                "display_name": names.get(e.user_id),
                                "score": e.score,
                                "submissions": e.submissions,
                                "last_submission_at": e.last_submission_at.isoformat(),
                            }
                        )
                        for e in entries
                    },
                )
            pipe.hset(meta_key, mapping={"as_of": as_of.isoformat(), "total": len(entries)})
            await pipe.execute()

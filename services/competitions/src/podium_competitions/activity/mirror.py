"""Redis mirror of activity boards, read by the gateway (SPEC §6, §7.3).

The same conventions as the prediction boards' mirror: three keys per board
(`podium_contracts.redis_keys.activity_board_keys`), a sorted set user id ->
rank, a hash user id -> entry JSON with the shared entry shape, and a meta
hash with `as_of` and `total`; each board is rewritten whole in one MULTI/EXEC.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import redis.asyncio as redis
from podium_contracts.redis_keys import Period, activity_board_keys

from podium_competitions.activity.domain import BoardEntry


class ActivityBoardMirror:
    """Writes ranked activity boards to Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    async def write(
        self,
        competition_id: uuid.UUID,
        period: Period,
        start: date | None,
        entries: Sequence[BoardEntry],
        names: Mapping[uuid.UUID, str],
        as_of: datetime,
    ) -> None:
        """Replace one board atomically."""
        ranks_key, entries_key, meta_key = activity_board_keys(competition_id, period, start)
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
                                # The shared entry shape: here, statements that earned points.
                                "submissions": e.statements,
                                "last_submission_at": e.last_statement_at.isoformat(),
                            }
                        )
                        for e in entries
                    },
                )
            pipe.hset(meta_key, mapping={"as_of": as_of.isoformat(), "total": len(entries)})
            await pipe.execute()

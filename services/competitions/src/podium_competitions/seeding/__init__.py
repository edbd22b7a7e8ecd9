"""Bulk seeding of a prediction board for benchmarks and load tests (never called by the service).

`seed_prediction_board` writes participants and their scored submissions
straight into the competitions schema in large batches, then ranks the board
and mirrors it to Redis through the same path as a rebuild
(`leaderboard.service.recompute_board`, ADR 0031). 100,000 entries take seconds,
where 100,000 uploads through the API would take hours.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from podium_runtime.db import Database
from redis.asyncio import Redis

from podium_competitions.boards import BoardWriter
from podium_competitions.leaderboard import service as leaderboard_service
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.seeding import repository

#: Rows per INSERT statement.
BATCH = 5000


async def seed_prediction_board(
    database_url: str, redis_url: str, competition_id: uuid.UUID, entries: int
) -> None:
    """Give `competition_id` `entries` ranked participants, in Postgres and in Redis."""
    database = Database(database_url, pool_size=2)
    client = Redis.from_url(redis_url)
    writer = BoardWriter(client)
    try:
        started = datetime.now(UTC) - timedelta(hours=1)
        for first in range(0, entries, BATCH):
            people: list[dict[str, Any]] = []
            scored: list[dict[str, Any]] = []
            for i in range(first, min(entries, first + BATCH)):
                user_id = uuid.uuid4()
                at = started + timedelta(milliseconds=i)
                people.append(
                    {"user_id": user_id, "display_name": f"Seeded {i}", "timezone": "UTC"}
                )
                scored.append(
                    {
                        "submission_id": uuid.uuid4(),
                        "competition_id": competition_id,
                        "user_id": user_id,
                        "higher_is_better": True,
                        "public_score": 1 - i / (entries + 1),
                        "private_score": 1 - i / (entries + 1),
                        "submitted_at": at,
                        "scored_at": at,
                    }
                )
            async with database.session() as session:
                await repository.insert_scored(session, people, scored)
        async with database.session() as session:
            await leaderboard_service.recompute_board(
                session, None, LeaderboardMirror(writer), competition_id
            )
        await writer.flush()
    finally:
        await client.aclose()
        await database.dispose()

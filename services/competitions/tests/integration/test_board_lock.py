"""The scores' upsert takes the board's lock before it writes (ADR 0083), on real Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from podium_competitions import repository as shared
from podium_competitions.leaderboard import repository
from podium_competitions.leaderboard.models import leaderboard_submissions
from podium_runtime.db import Database
from podium_runtime.testing import TestInfrastructure, await_lock_waiter
from sqlalchemy import func, select


async def _store_score(
    database: Database, competition_id: uuid.UUID, submission_id: uuid.UUID
) -> None:
    now = datetime.now(UTC)
    async with database.session() as session:
        await repository.lock_and_upsert_scored(
            session,
            [
                {
                    "submission_id": submission_id,
                    "competition_id": competition_id,
                    "user_id": uuid.uuid4(),
                    "higher_is_better": True,
                    "public_score": 0.5,
                    "private_score": 0.5,
                    "submitted_at": now,
                    "scored_at": now,
                }
            ],
        )


async def test_scores_wait_for_the_board_lock_its_holder_keeps(
    test_infra: TestInfrastructure,
) -> None:
    await test_infra.migrate("competitions")
    database = Database(test_infra.database_url, pool_size=3)
    competition_id, submission_id = uuid.uuid4(), uuid.uuid4()
    stored = select(func.count()).where(leaderboard_submissions.c.submission_id == submission_id)
    try:
        async with database.session() as holder:
            await repository.lock_board(holder, competition_id)
            writer = asyncio.create_task(_store_score(database, competition_id, submission_id))
            # Until another backend waits for exactly this board's lock.
            await await_lock_waiter(
                database, f"leaderboard:{competition_id}", shared.BOARD_LOCK_SEED
            )
            assert not writer.done()
        await writer  # the holder committed: the scores go in
        async with database.session() as session:
            assert (await session.execute(stored)).scalar_one() == 1
    finally:
        await database.dispose()

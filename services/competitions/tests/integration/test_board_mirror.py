"""Redis is a projection: boards commit without it and come back after a stall or a flush."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import competitions_factories as factories
import httpx
import pytest
import redis.asyncio as redis
from podium_competitions.app import create_api
from podium_competitions.config import Settings
from podium_competitions.leaderboard import repository
from podium_contracts.events import SubmissionScored
from podium_contracts.redis_keys import (
    leaderboard_entries_key,
    leaderboard_meta_key,
    leaderboard_ranks_key,
    member_user_id,
)
from podium_runtime.db import Database
from podium_runtime.faultlink import FaultLink
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.service_credentials import auth_for
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import TestInfrastructure, eventually, serve


@dataclass
class MirrorStack:
    """Competitions behind a breakable Redis link, a producer, and direct handles."""

    link: FaultLink
    producer: ServiceRuntime
    database: Database
    redis: redis.Redis
    http: httpx.AsyncClient

    async def score(self, competition_id: uuid.UUID, user_id: uuid.UUID, score: float) -> None:
        scored = factories.scored(competition_id, user_id, score)
        await self.producer.publisher.publish(new_event(SubmissionScored, "scoring", scored))

    async def rank_in_postgres(self, competition_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
        async with self.database.session() as session:
            row = await repository.standing(session, competition_id, user_id)
        return None if row is None else int(row.rank)

    async def mirrored_total(self, competition_id: uuid.UUID) -> int | None:
        total = await self.redis.hget(leaderboard_meta_key(competition_id, "public"), "total")
        return None if total is None else int(total)


@pytest.fixture(scope="module")
async def stack(test_infra: TestInfrastructure) -> AsyncIterator[MirrorStack]:
    """The competitions service whose Redis link the tests break, audited every 0.3 s."""
    await test_infra.migrate("competitions")
    link = await FaultLink.to_redis(test_infra.infra.redis_url).start()
    settings = test_infra.settings(
        Settings,
        service_name="competitions",
        redis_url=link.redis_url(test_infra.infra.redis_url),
        mirror_audit_interval_seconds=0.3,
        health_timeout_seconds=0.5,
    )
    producer = ServiceRuntime(test_infra.settings(ServiceSettings, service_name="scoring-stand-in"))
    await producer.broker.start()
    database = Database(test_infra.database_url, pool_size=2)
    direct = redis.from_url(test_infra.infra.redis_url)
    try:
        async with (
            serve(create_api(settings)) as url,
            httpx.AsyncClient(base_url=url, auth=auth_for(settings)) as http,
        ):
            yield MirrorStack(link, producer, database, direct, http)
    finally:
        link.restore()
        await producer.broker.stop()
        await producer.redis.aclose()
        await database.dispose()
        await direct.aclose()
        await link.stop()


async def test_a_score_reaches_the_board_while_redis_is_down_and_the_mirror_after(
    stack: MirrorStack,
) -> None:
    competition, user = uuid.uuid4(), uuid.uuid4()
    stack.link.cut()
    try:
        await stack.score(competition, user, 0.9)
        # The old code wrote Redis inside the transaction: nothing committed while it was down.
        assert (
            await eventually(
                lambda: stack.rank_in_postgres(competition, user),
                timeout=30,
                message="the board committed in Postgres",
            )
            == 1
        )
        assert await stack.mirrored_total(competition) is None
    finally:
        stack.link.restore()
    assert (
        await eventually(
            lambda: stack.mirrored_total(competition), timeout=30, message="the mirror caught up"
        )
        == 1
    )


async def test_a_board_lost_from_redis_is_rebuilt_without_anyone_asking(
    stack: MirrorStack,
) -> None:
    competition = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(3)]
    for n, user in enumerate(users):
        await stack.score(competition, user, 0.5 + n / 10)

    async def all_mirrored() -> bool:
        return await stack.mirrored_total(competition) == len(users)

    await eventually(all_mirrored, timeout=30, message="the board mirrored")
    # Data loss: the board's keys vanish as in a flush or a failover to an empty replica.
    await stack.redis.delete(
        leaderboard_ranks_key(competition, "public"),
        leaderboard_entries_key(competition, "public"),
        leaderboard_meta_key(competition, "public"),
    )
    await eventually(all_mirrored, timeout=30, message="the board rebuilt by the audit")
    ranks = await stack.redis.zrange(leaderboard_ranks_key(competition, "public"), 0, -1)
    assert [uuid.UUID(member_user_id(r)) for r in ranks] == users[::-1]

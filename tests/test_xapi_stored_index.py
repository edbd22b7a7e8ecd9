"""The stored-ids index (docs/adr/0059): the gateway asks ingest's store only when it must.

Ingest writes a Bloom filter of stored statement ids; the gateway's claim script reads
it. An id with a clear bit is proven unstored; any other unclaimed id (every bit set,
or no filter at all) is looked up in the store, so a lost claim is still a 409.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis
from podium_contracts.statement_index import index_positions, statement_index_key
from podium_gateway.xapi.claims import ClaimState, StatementClaims
from podium_ingest.models import statements
from podium_ingest.statement_index import StatementIndex
from podium_runtime.db import Database
from podium_runtime.script_line import Scripts
from podium_runtime.testing import TestInfrastructure, eventually

BITS = 1 << 20


@pytest.fixture
async def database(test_infra: TestInfrastructure) -> AsyncIterator[Database]:
    await test_infra.migrate("ingest")
    db = Database(test_infra.database_url, pool_size=2)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def client(test_infra: TestInfrastructure) -> AsyncIterator[redis.Redis]:
    r = redis.from_url(test_infra.infra.redis_url)
    yield r
    await r.aclose()


async def _store(database: Database, statement_id: uuid.UUID) -> None:
    # A whole statement, as ingest stores one: a later rebuild of the flattened facts in
    # the same database (test_admin_rebuilds) reads every stored statement.
    stored = datetime.now(UTC)
    statement = {
        "id": str(statement_id),
        "actor": {"mbox": "mailto:stored-index@podium.test"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"objectType": "Activity", "id": "http://podium.test/activities/index"},
        "stored": stored.isoformat(),
        "timestamp": stored.isoformat(),
        "version": "1.0.0",
    }
    async with database.session() as session:
        await session.execute(
            statements.insert().values(
                id=statement_id,
                statement=statement,
                lrs_client_id=uuid.uuid4(),
                stored=stored,
            )
        )


async def _indexed(r: redis.Redis, prefix: str, statement_id: uuid.UUID) -> bool:
    key = statement_index_key(prefix)
    bits = int(await r.strlen(key)) * 8
    if bits == 0:
        return False
    return all([await r.getbit(key, p % bits) for p in index_positions(statement_id)])


async def test_a_missing_index_rules_nothing_out_and_is_never_half_rebuilt(
    client: redis.Redis,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:gateway:"
    claims = StatementClaims(Scripts(client), prefix)
    index = StatementIndex(client, prefix, BITS)
    # No index (a fresh or flushed Redis): every unclaimed id goes to the store.
    assert await claims.claim([str(uuid.uuid4())], ["h1"]) == [ClaimState.NEW_MAYBE_STORED]
    # Adding ids never creates the index: one holding only later ids would lie.
    await index.add([uuid.uuid4()])
    assert not await index.exists()


async def test_the_built_index_holds_every_stored_id_and_proves_others_unstored(
    client: redis.Redis, database: Database
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:gateway:"
    claims = StatementClaims(Scripts(client), prefix)
    index = StatementIndex(client, prefix, BITS)
    before, after, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _store(database, before)
    assert await index.build(database) >= 1
    assert await _indexed(client, prefix, before)
    # Ingest adds the ids it stores before their transaction commits.
    await index.add([after])
    await _store(database, after)
    assert await _indexed(client, prefix, after)

    states = await claims.claim([str(before), str(after), str(fresh)], ["a", "b", "c"])
    # Stored ids whose claims are gone must be looked up; a clear bit proves `fresh` new.
    assert states == [
        ClaimState.NEW_MAYBE_STORED,
        ClaimState.NEW_MAYBE_STORED,
        ClaimState.NEW,
    ]
    # The index does not change how claims answer: the same content is a no-op,
    # another one a conflict, and then nothing of the request is claimed.
    again = await claims.claim([str(fresh)], ["c"])
    assert again == [ClaimState.SAME_PENDING]
    other = uuid.uuid4()
    refused = await claims.claim([str(other), str(fresh)], ["d", "changed"])
    assert refused[1] is ClaimState.CONFLICT
    assert not await client.exists(f"{prefix}xapi:claim:{other}")


async def test_the_background_job_rebuilds_a_lost_index(
    client: redis.Redis, database: Database
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:gateway:"
    index = StatementIndex(client, prefix, BITS)
    stored = uuid.uuid4()
    await _store(database, stored)
    job = index.keep_built(database, interval_seconds=0.05)
    task = asyncio.create_task(job())
    try:
        await eventually(lambda: _indexed(client, prefix, stored), message="index built")
        await client.delete(statement_index_key(prefix))  # Redis lost it
        assert not await _indexed(client, prefix, stored)
        await eventually(lambda: _indexed(client, prefix, stored), message="index rebuilt")
    finally:
        task.cancel()

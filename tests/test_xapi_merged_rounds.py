"""Round trips shared by concurrent statement requests answer each as if it came alone.

The gateway merges the rate-limit counts and id claims of concurrent xAPI requests
into one Redis script call per round trip (`podium_gateway.coalesce`). Merging must
not change any answer: every request is counted, and every batch is claimed
all-or-nothing, in arrival order.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis
from podium_gateway.coalesce import Coalescer
from podium_gateway.limits import HITS_SCRIPT, MergedHits
from podium_gateway.xapi.claims import ClaimState, StatementClaims
from podium_runtime.problems import Problem
from podium_runtime.script_line import ScriptLine, Scripts
from podium_runtime.testing import TestInfrastructure


async def test_callers_arriving_while_a_round_runs_go_together_in_the_next() -> None:
    rounds: list[list[int]] = []
    release = asyncio.Event()

    async def call(parts: list[int]) -> list[int]:
        rounds.append(parts)
        if len(rounds) == 1:
            await release.wait()
        return [p * 10 for p in parts]

    merged: Coalescer[int, int] = Coalescer(call)
    first = asyncio.create_task(merged.run(1))
    await asyncio.sleep(0)
    later = [asyncio.create_task(merged.run(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert rounds == [[1], [2, 3, 4]]


async def test_a_failed_round_fails_its_callers_and_a_cancelled_caller_only_itself() -> None:
    release = asyncio.Event()

    async def call(parts: list[int]) -> list[int]:
        await release.wait()
        if 0 in parts:
            raise RuntimeError("store down")
        return parts

    merged: Coalescer[int, int] = Coalescer(call, max_size=2)
    busy = asyncio.create_task(merged.run(7))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(merged.run(8))
    staying = asyncio.create_task(merged.run(9))
    failing = asyncio.create_task(merged.run(0))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await busy == 7
    assert await staying == 9  # its round went on without the caller that left
    with pytest.raises(asyncio.CancelledError):
        await leaving
    with pytest.raises(RuntimeError, match="store down"):
        await failing  # a third round: max_size 2 left it out of the second


async def test_merged_claims_answer_each_batch_all_or_nothing_in_arrival_order(
    store: redis.Redis,
) -> None:
    client = store
    prefix = f"t{uuid.uuid4().hex[:8]}:gateway:"
    claims = StatementClaims(Scripts(client), prefix)
    x, y, z = (str(uuid.uuid4()) for _ in range(3))
    answers = await asyncio.gather(
        claims.claim([x], ["hx"]),
        claims.claim([x, y], ["hx", "hy"]),  # x is this content, pending: same, y new
        claims.claim([y, z], ["other", "hz"]),  # y claimed for other content: all refused
        claims.claim([z], ["hz"]),  # z was not claimed by the refused batch
    )
    maybe = ClaimState.NEW_MAYBE_STORED  # no index of stored ids in this Redis prefix
    assert answers == [
        [maybe],
        [ClaimState.SAME_PENDING, maybe],
        [ClaimState.CONFLICT, ClaimState.NEW],  # refused whole: z answered, not claimed
        [maybe],
    ]
    assert await client.get(f"{prefix}xapi:claim:{y}") == b"hy:p"
    assert await client.get(f"{prefix}xapi:claim:{z}") == b"hz:p"


@pytest.mark.parametrize("on_line", [False, True], ids=["redis-py", "script line"])
async def test_merged_hits_count_every_request(
    store: redis.Redis, test_infra: TestInfrastructure, on_line: bool
) -> None:
    client = store
    line = ScriptLine(test_infra.infra.redis_url, [HITS_SCRIPT]) if on_line else None
    hits = MergedHits(Scripts(client, line))
    key = f"t{uuid.uuid4().hex[:8]}:rl:lrs:client"
    outcomes = await asyncio.gather(
        *(hits.enforce(key, 3, 10) for _ in range(5)), return_exceptions=True
    )
    allowed = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, Problem)]
    assert [r.used for r in allowed] == [1, 2, 3]
    assert [p.status for p in refused] == [429, 429]
    assert all(p.code == "RATE_LIMIT_EXCEEDED" for p in refused)
    assert int(await client.get(key)) == 5
    assert 0 < await client.pttl(key) <= 10_000
    if line is not None:
        await line.aclose()


async def test_a_round_answering_too_few_parts_fails_its_callers_instead_of_hanging() -> None:
    async def call(parts: list[int]) -> list[int]:
        return parts[:1]

    merged: Coalescer[int, int] = Coalescer(call)
    busy = asyncio.create_task(merged.run(1))
    await asyncio.sleep(0)
    later = [asyncio.create_task(merged.run(n)) for n in (2, 3)]
    assert await busy == 1
    for caller in later:
        with pytest.raises(RuntimeError, match="1 answers for 2 parts"):
            await asyncio.wait_for(caller, timeout=5)

"""Two gateway replicas racing on one statement id: exactly one content wins (SPEC §5.4)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from podium_runtime.testing import TestInfrastructure, eventually
from xapi_support.stack import LrsStack, lrs_stack, statement


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("race"), gateways=2) as stack:
        yield stack


@pytest.mark.slow
async def test_replicas_racing_on_one_id_let_exactly_one_content_win(lrs: LrsStack) -> None:
    async with (
        httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as first,
        httpx.AsyncClient(base_url=lrs.gateways[1], headers=lrs.headers()) as second,
    ):
        for _ in range(20):
            statement_id = str(uuid.uuid4())
            contents = [
                statement(id=statement_id, result={"response": "from replica one"}),
                statement(id=statement_id, result={"response": "from replica two"}),
            ]
            answers = await asyncio.gather(
                first.post("/xapi/statements", json=contents[0]),
                second.put(
                    "/xapi/statements", params={"statementId": statement_id}, json=contents[1]
                ),
            )
            codes = sorted(a.status_code for a in answers)
            assert codes in ([200, 409], [204, 409]), [a.text for a in answers]
            winner = contents[0] if answers[0].status_code == 200 else contents[1]

            async def stored(sid: str = statement_id) -> httpx.Response | None:
                got = await first.get("/xapi/statements", params={"statementId": sid})
                return got if got.status_code == 200 else None

            found = (await eventually(stored, message="the winner is stored")).json()
            assert found["result"] == winner["result"]
            # The loser keeps losing on either replica; the winner is a no-op on both.
            for client in (first, second):
                again = await client.post("/xapi/statements", json=winner)
                assert again.status_code == 200
                loser = contents[1] if winner is contents[0] else contents[0]
                assert (await client.post("/xapi/statements", json=loser)).status_code == 409


@pytest.mark.slow
async def test_equivalent_concurrent_posts_all_succeed_and_store_once(lrs: LrsStack) -> None:
    statement_id = str(uuid.uuid4())
    sent = statement(id=statement_id)
    clients = [httpx.AsyncClient(base_url=url, headers=lrs.headers()) for url in lrs.gateways * 4]
    try:
        answers = await asyncio.gather(*(c.post("/xapi/statements", json=sent) for c in clients))
        assert [a.status_code for a in answers] == [200] * len(clients)
        activity = sent["object"]["id"]

        async def one_copy() -> bool:
            got = await clients[0].get(
                "/xapi/statements",
                params={"agent": f'{{"mbox": "{sent["actor"]["mbox"]}"}}', "activity": activity},
            )
            return [s["id"] for s in got.json()["statements"]] == [statement_id]

        await eventually(one_copy, message="exactly one stored copy")
    finally:
        for c in clients:
            await c.aclose()

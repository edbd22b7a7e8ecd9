"""xAPI input the store cannot keep is refused with 400 before anything is acknowledged."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from xapi_support.stack import LrsStack, lrs_stack, statement


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("lrs-hygiene")) as stack:
        yield stack


@pytest.fixture
async def client(lrs: LrsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as c:
        yield c


async def test_a_nul_statement_is_refused_and_its_valid_neighbour_can_be_posted_again(
    client: httpx.AsyncClient,
) -> None:
    """Regression: a NUL statement was acknowledged, ingest dead-lettered the actor's batch,
    and the committed claim made the re-post of the valid one a silent no-op."""
    valid = statement(id=str(uuid.uuid4()))
    poisoned = statement(actor=valid["actor"])
    poisoned["verb"]["display"] = {"en-US": "did\u0000it"}
    refused = await client.post("/xapi/statements", json=[valid, poisoned])
    assert refused.status_code == 400, refused.text
    assert "NUL" in refused.json()["detail"]

    again = await client.post("/xapi/statements", json=valid)
    assert again.status_code == 200, again.text

    async def stored() -> bool:
        got = await client.get("/xapi/statements", params={"statementId": valid["id"]})
        return got.status_code == 200

    await eventually(stored, timeout=30, message="the valid statement is stored")


@pytest.mark.parametrize(
    "body",
    [
        b'{"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://x.test/\\ud800"}}',
        json.dumps({"actor": {"name": "x\u0000"}}).encode(),
        ("[" * 5000 + "]" * 5000).encode(),
    ],
    ids=["lone-surrogate", "nul", "deep"],
)
async def test_unstorable_bodies_are_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/xapi/statements", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "²"},
        {"limit": "9" * 5000},
        {"since": "0001-01-01T00:00:00+14:00"},
        {"agent": '{"mbox": "mailto:a\\u0000@example.com"}'},
        {"agent": "[" * 3000 + "]" * 3000},
        {"verb": "http://x.test/\u0000"},
    ],
    ids=[
        "unicode-digit",
        "huge-limit",
        "before-year-one",
        "nul-agent",
        "deep-agent",
        "nul",
    ],
)
async def test_query_parameters_that_used_to_give_500_are_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/xapi/statements", params=params)
    assert response.status_code == 400, response.text

"""The version named in the answer to an xAPI request that names none (docs/xapi.md).

A request without `X-Experience-API-Version` is 400; its answer names the version
the same credentials named in their last verified request, on any gateway replica,
else the configured default. Unverified requests are never remembered.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from xapi_support.stack import LrsStack, create_lrs_client, lrs_stack

HEADER = "x-experience-api-version"


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("lrs-versions"), gateways=2) as stack:
        yield stack


async def _new_credentials(lrs: LrsStack) -> str:
    return (await create_lrs_client(lrs.gateways[0], lrs.admin_token, "versions", ["all"]))[1]


def _wrong_secret(basic: str) -> str:
    key = base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")[0]
    return "Basic " + base64.b64encode(f"{key}:not-the-secret".encode()).decode()


async def _unversioned(gateway: str, basic: str | None) -> httpx.Response:
    headers = {"Authorization": basic} if basic else {}
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        response = await client.get("/xapi/statements", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "XAPI_VERSION_REQUIRED"
    return response


async def _speak(gateway: str, basic: str, version: str) -> int:
    headers = {"Authorization": basic, "X-Experience-API-Version": version}
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        response = await client.get("/xapi/statements", params={"limit": "1"}, headers=headers)
    return response.status_code


async def test_unversioned_answer_names_the_version_the_credentials_last_spoke(
    lrs: LrsStack,
) -> None:
    first, second = lrs.gateways
    basic = await _new_credentials(lrs)
    # Nothing spoken yet: the configured default (1.0.3 in the test settings).
    assert (await _unversioned(first, basic)).headers[HEADER] == "1.0.3"

    assert await _speak(first, basic, "2.0.0") == 200
    assert (await _unversioned(first, basic)).headers[HEADER] == "2.0.0"

    async def replica_answers(version: str) -> bool:
        return (await _unversioned(second, basic)).headers[HEADER] == version

    # The other replica never saw these credentials: it reads what the first one shared.
    await eventually(lambda: replica_answers("2.0.0"), message="replica names 2.0.0")

    # Every 1.0.x is answered as 1.0.3, and the latest version spoken wins.
    assert await _speak(second, basic, "1.0.1") == 200
    assert (await _unversioned(second, basic)).headers[HEADER] == "1.0.3"
    # Neither another client's nor anonymous unversioned requests see it.
    other = await _new_credentials(lrs)
    assert (await _unversioned(second, other)).headers[HEADER] == "1.0.3"
    assert await _speak(first, other, "2.0.0") == 200
    assert (await _unversioned(first, other)).headers[HEADER] == "2.0.0"
    assert (await _unversioned(first, None)).headers[HEADER] == "1.0.3"


async def test_unverified_requests_are_not_remembered(lrs: LrsStack) -> None:
    gateway = lrs.gateways[0]
    basic = await _new_credentials(lrs)
    wrong = _wrong_secret(basic)
    assert await _speak(gateway, wrong, "2.0.0") == 401
    # The wrong secret spoke 2.0.0 but never verified; the right one spoke nothing.
    assert (await _unversioned(gateway, wrong)).headers[HEADER] == "1.0.3"
    assert (await _unversioned(gateway, basic)).headers[HEADER] == "1.0.3"
    # Knowing the key without its secret tells nothing about what the client spoke.
    assert await _speak(gateway, basic, "2.0.0") == 200
    assert (await _unversioned(gateway, basic)).headers[HEADER] == "2.0.0"
    assert (await _unversioned(gateway, wrong)).headers[HEADER] == "1.0.3"
    assert (await _unversioned(lrs.gateways[1], wrong)).headers[HEADER] == "1.0.3"


async def test_a_2_0_0_default_answers_credentials_that_spoke_nothing(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with lrs_stack(
        test_infra, tmp_path_factory.mktemp("lrs-v2"), xapi_default_version="2.0.0"
    ) as stack:
        (gateway,) = stack.gateways
        basic = await _new_credentials(stack)
        assert (await _unversioned(gateway, basic)).headers[HEADER] == "2.0.0"
        assert await _speak(gateway, basic, "1.0.3") == 200
        assert (await _unversioned(gateway, basic)).headers[HEADER] == "1.0.3"

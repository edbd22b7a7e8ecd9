"""A course player session with a real xAPI client library (@xapi/xapi, bench/xapi-player).

Runs `node bench/xapi-player/player.mjs` against the LRS stack: statements, then
State saved and resumed from a new client. Needs Node.js and `npm ci` in
bench/xapi-player; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from podium_runtime.testing import TestInfrastructure

sys.path.insert(0, str(Path(__file__).parent))

from xapi_support.stack import LrsStack, lrs_stack

PLAYER = Path(__file__).resolve().parents[1] / "bench" / "xapi-player"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (PLAYER / "node_modules" / "@xapi" / "xapi").exists(),
    reason="needs Node.js and `npm ci` in bench/xapi-player",
)


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("lrs-player")) as stack:
        yield stack


async def test_a_course_player_saves_and_resumes_its_state(lrs: LrsStack) -> None:
    key, _, secret = base64.b64decode(lrs.credentials["all"].split()[1]).decode().partition(":")
    process = await asyncio.create_subprocess_exec(
        "node",
        "player.mjs",
        cwd=PLAYER,
        env={
            "PATH": shutil.which("node").rsplit("/", 1)[0],  # type: ignore[union-attr]
            "LRS_ENDPOINT": f"{lrs.gateways[0]}/xapi",
            "LRS_KEY": key,
            "LRS_SECRET": secret,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["statements"] == 9 and summary["resumedFrom"] == "slide-5"

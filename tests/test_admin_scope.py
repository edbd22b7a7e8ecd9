"""Who reaches which operation (issue 18), and activity boards rebuilt from the points ledger.

Every service on real infrastructure. Administrators reach every admin
route; anyone else gets 403 on each of them (one test per route). A sponsor
reaches the operations of their own competition (its audit log, its board
rebuilds, its statistics) and another sponsor is refused. An activity board
rebuilt from the points ledger, by an admin or by the owning sponsor, equals
the one the consumers built incrementally (SPEC §10.5).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from fastapi.routing import APIRoute
from podium_contracts.redis_keys import BOARDS
from podium_gateway.app import routers
from podium_gateway.auth import require_admin
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from ops_support.stack import OpsStack, completed, ops_stack
from platform_support.stack import User

pytestmark = pytest.mark.slow

PERIODS = ("all", "day", "week", "month")
#: Admin routes a sponsor may use for their own things (rewards decides: SPEC §10.4).
SPONSOR_CAPABLE = {
    ("GET", "/v1/admin/drawings"),
    ("POST", "/v1/admin/drawings"),
    ("PATCH", "/v1/admin/drawings/{drawing_id}"),
}


def _needs_admin(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call is require_admin:
            return True
        pending.extend(dependency.dependencies)
    return False


def _admin_routes() -> list[tuple[str, str]]:
    found = []
    for router in routers():
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path.startswith("/v1/admin"):
                for method in sorted(route.methods):
                    if (method, route.path) not in SPONSOR_CAPABLE:
                        assert _needs_admin(route), f"{method} {route.path} is not admin-only"
                    found.append((method, route.path))
    return found


ADMIN_ONLY = [r for r in _admin_routes() if r not in SPONSOR_CAPABLE]
SAMPLE_PARAMETERS = {"topic": "podium.joins", "partition": "0", "offset": "0", "name": "x"}


def _concrete(path: str) -> str:
    for name in ("topic", "partition", "offset", "name"):
        path = path.replace("{" + name + "}", SAMPLE_PARAMETERS[name])
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """Every service but rewards, for the module."""
    async with ops_stack(test_infra, tmp_path_factory.mktemp("admin-scope")) as running:
        yield running


@pytest.fixture(scope="module")
async def outsiders(stack: OpsStack) -> dict[str, User]:
    """A plain user and a sponsor (owner of a competition), neither an admin."""
    user, sponsor = await stack.sign_up(), await stack.sign_up()
    await stack.activity_competition(sponsor)
    return {"user": user, "sponsor": sponsor}


def test_every_admin_route_is_listed() -> None:
    # The guard of the parametrised test below: a new admin route cannot slip past it.
    every = _admin_routes()
    assert SPONSOR_CAPABLE <= set(every), "a sponsor-capable exception no longer exists"
    assert len(ADMIN_ONLY) == len(every) - len(SPONSOR_CAPABLE) >= 30
    assert {("POST", "/v1/admin/rebuilds"), ("GET", "/v1/admin/audit")} <= set(ADMIN_ONLY)


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY, ids=[f"{m} {p}" for m, p in ADMIN_ONLY])
async def test_non_admins_get_403_on_an_admin_route(
    stack: OpsStack, outsiders: dict[str, User], method: str, path: str
) -> None:
    url = _concrete(path)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    for who, user in outsiders.items():
        answer = await stack.http.request(method, url, json=body, headers=user.auth)
        assert answer.status_code == 403, (who, answer.text)
        assert answer.json()["code"] == "FORBIDDEN"
    assert (await stack.http.request(method, url, json=body)).status_code == 401


async def _board_rows(stack: OpsStack, cid: str) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT user_id, rank, score, statements, last_statement_at"
            " FROM competitions.activity_board WHERE competition_id = $1 ORDER BY rank, user_id",
            uuid.UUID(cid),
        )
        return [tuple(r) for r in rows]
    finally:
        await connection.close()


async def _boards(stack: OpsStack, cid: str) -> dict[str, Any]:
    shown = {}
    for period in PERIODS:
        got = await stack.http.get(
            f"/v1/competitions/{cid}/leaderboard", params={"period": period, "limit": 100}
        )
        assert got.status_code == 200, got.text
        shown[period] = {k: v for k, v in got.json().items() if k != "as_of"}
    return shown


async def _lose_boards(stack: OpsStack, test_infra: TestInfrastructure, cid: str) -> None:
    """Delete the activity board rows and every Redis key of the competition's boards."""
    connection = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        await connection.execute(
            "DELETE FROM competitions.activity_board WHERE competition_id = $1", uuid.UUID(cid)
        )
    finally:
        await connection.close()
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{BOARDS}{cid}:points:*")]
        assert keys, "the boards were mirrored"
        await client.delete(*keys)
    finally:
        await client.aclose()


async def _finished(stack: OpsStack, url: str, auth: dict[str, str]) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        got = await stack.http.get(url, headers=auth)
        assert got.status_code == 200, got.text
        state: dict[str, Any] = got.json()
        return state if state["status"] in ("succeeded", "failed") else None

    state = await eventually(done, timeout=60, message="the rebuild finishes")
    assert state["status"] == "succeeded", state
    assert state["done"] == state["total"] >= 1
    return state


@pytest.fixture(scope="module")
async def activity(stack: OpsStack) -> dict[str, Any]:
    """An activity competition whose boards the consumers built: 30, 20 and 10 points."""
    owner = await stack.sign_up("Board owner")
    learners = [await stack.sign_up(f"Learner {i}") for i in range(3)]
    cid = (await stack.activity_competition(owner))["id"]
    statements = []
    for count, learner in zip((3, 1, 2), learners, strict=True):
        await stack.join(cid, learner)
        statements += [completed(learner, f"rebuild-{learner.user_id}-{n}") for n in range(count)]
    await stack.post_statements(*statements)

    async def ranked() -> list[Any] | None:
        board = (await _boards(stack, cid))["all"]["entries"]
        scores = [e["score"] for e in board]
        return board if scores == [30, 20, 10] else None

    await eventually(ranked, timeout=60, message="the incremental board")
    return {"id": cid, "owner": owner, "learners": learners}


async def test_activity_boards_rebuilt_from_the_points_ledger_equal_the_incremental_ones(
    stack: OpsStack, test_infra: TestInfrastructure, activity: dict[str, Any]
) -> None:
    cid = activity["id"]
    incremental_rows = await _board_rows(stack, cid)
    incremental = await _boards(stack, cid)
    assert len(incremental_rows) == 3
    assert all(len(incremental[p]["entries"]) == 3 for p in PERIODS)

    await _lose_boards(stack, test_infra, cid)
    assert await _board_rows(stack, cid) == []
    assert (await _boards(stack, cid))["all"]["entries"] == []

    job = await stack.http.post(
        "/v1/admin/rebuilds",
        json={"target": "activity_boards", "competition_id": cid},
        headers=stack.admin,
    )
    assert job.status_code == 202, job.text
    await _finished(stack, f"/v1/admin/rebuilds/{job.json()['id']}", stack.admin)
    assert await _board_rows(stack, cid) == incremental_rows
    assert await _boards(stack, cid) == incremental


async def test_the_owner_rebuilds_their_boards_and_other_sponsors_are_refused(
    stack: OpsStack,
    test_infra: TestInfrastructure,
    activity: dict[str, Any],
    outsiders: dict[str, User],
) -> None:
    cid, owner = activity["id"], activity["owner"]
    incremental_rows = await _board_rows(stack, cid)
    incremental = await _boards(stack, cid)
    url = f"/v1/competitions/{cid}/rebuilds"
    for user in outsiders.values():
        refused = await stack.http.post(url, headers=user.auth)
        assert refused.status_code == 403 and refused.json()["code"] == "NOT_OWNER"
    assert (await stack.http.post(url)).status_code == 401
    unknown = await stack.http.post(f"/v1/competitions/{uuid.uuid4()}/rebuilds", headers=owner.auth)
    assert unknown.status_code == 404

    await _lose_boards(stack, test_infra, cid)
    job = await stack.http.post(url, headers=owner.auth)
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    state = await _finished(stack, f"{url}/{job_id}", owner.auth)
    assert state["result"] == {"board_days": state["total"]}
    assert await _board_rows(stack, cid) == incremental_rows
    assert await _boards(stack, cid) == incremental

    # The job is shown only through its own competition, and only to its owner.
    sponsor = outsiders["sponsor"]
    assert (await stack.http.get(f"{url}/{job_id}", headers=sponsor.auth)).status_code == 403
    elsewhere = (await stack.activity_competition(owner))["id"]
    moved = await stack.http.get(
        f"/v1/competitions/{elsewhere}/rebuilds/{job_id}", headers=owner.auth
    )
    assert moved.status_code == 404
    # An admin's own rebuild is not a sponsor's to follow.
    admin_job = await stack.http.post(
        "/v1/admin/rebuilds",
        json={"target": "activity_boards", "competition_id": cid},
        headers=stack.admin,
    )
    hidden = await stack.http.get(f"{url}/{admin_job.json()['id']}", headers=owner.auth)
    assert hidden.status_code == 404
    # The sponsor's rebuild is audited with the sponsor as actor.
    [entry] = (
        await stack.http.get(
            "/v1/admin/audit",
            params={"actor": owner.user_id, "action": "projection.rebuild_requested"},
            headers=stack.admin,
        )
    ).json()["items"]
    assert entry["target_id"] == f"activity_boards:{cid}"
    assert entry["after"] == {"job_id": job_id}


async def test_the_owner_reads_their_competitions_audit_log_and_others_are_refused(
    stack: OpsStack, outsiders: dict[str, User]
) -> None:
    owner = await stack.sign_up()
    cid = (await stack.activity_competition(owner))["id"]
    renamed = await stack.http.patch(
        f"/v1/competitions/{cid}", json={"title": "Renamed sprint"}, headers=owner.auth
    )
    assert renamed.status_code == 200, renamed.text
    url = f"/v1/competitions/{cid}/audit"

    mine = await stack.http.get(url, headers=owner.auth)
    assert mine.status_code == 200, mine.text
    # The stack's competitions trust its learning tool as they are made (ADR 0054).
    assert [e["action"] for e in mine.json()["items"]] == [
        "competition.updated",
        "competition.lrs_trust_changed",
        "competition.created",
    ]
    assert {e["target_id"] for e in mine.json()["items"]} == {cid}
    only = await stack.http.get(url, params={"action": "competition.created"}, headers=owner.auth)
    assert [e["action"] for e in only.json()["items"]] == ["competition.created"]
    assert (await stack.http.get(url, headers=stack.admin)).status_code == 200
    for user in outsiders.values():
        refused = await stack.http.get(url, headers=user.auth)
        assert refused.status_code == 403 and refused.json()["code"] == "NOT_OWNER"
    assert (await stack.http.get(url)).status_code == 401
    # A private competition does not exist for strangers: 404, as everywhere (SPEC §8).
    hidden = (await stack.activity_competition(owner, visibility="private"))["id"]
    stranger = outsiders["sponsor"]
    gone = await stack.http.get(f"/v1/competitions/{hidden}/audit", headers=stranger.auth)
    assert gone.status_code == 404


async def test_the_owner_reads_their_statistics_and_others_are_refused(
    stack: OpsStack, outsiders: dict[str, User], activity: dict[str, Any]
) -> None:
    cid, owner = activity["id"], activity["owner"]
    url = f"/v1/competitions/{cid}/stats"
    mine = await stack.http.get(url, headers=owner.auth)
    assert mine.status_code == 200, mine.text
    assert mine.json()["participants"] == 3
    assert (await stack.http.get(url, headers=stack.admin)).status_code == 200
    for user in outsiders.values():
        refused = await stack.http.get(url, headers=user.auth)
        assert refused.status_code == 403 and refused.json()["code"] == "NOT_OWNER"

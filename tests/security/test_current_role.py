"""Replay: a demoted or disabled admin keeps no admin power (ADR 0052, issue 13 item 7).

The attack: an administrator is demoted while holding an access token that
still says `admin` and stays valid by signature for 15 minutes. Before the fix
9 of 10 admin actions kept working with it. Here the same token performs nine
admin actions successfully, the administrator is demoted, and the same nine
actions are replayed: every one must be refused, none may answer 500. A
disabled administrator's and a disabled user's tokens are refused at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from competitions_support.stack import CompetitionsStack, competitions_stack
from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, User
from podium_runtime.testing import TestInfrastructure, eventually

from security.tally import Attack, Tally

pytestmark = pytest.mark.slow

TALLY = Tally()


@dataclass(frozen=True)
class Action:
    """One admin action: what it is, the request, and the answer an admin gets."""

    name: str
    method: str
    path: str
    succeeded: int
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None


@dataclass
class Scene:
    """A running stack, the first admin's bearer header and another owner's competitions."""

    stack: CompetitionsStack
    root: dict[str, str]
    actions: list[Action]


@pytest.fixture(scope="module")
async def scene(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Scene]:
    async with competitions_stack(test_infra, tmp_path_factory.mktemp("current-role")) as stack:
        root = {"Authorization": f"Bearer {await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)}"}
        owner = await stack.sign_up()
        public = await stack.create(owner)
        secret = await stack.create(owner, visibility="private")
        cid = public["id"]
        actions = [
            Action("edit another owner's competition", "PATCH", f"/v1/competitions/{cid}",
                   200, json={"description": "edited by an administrator"}),
            Action("read another owner's statistics", "GET", f"/v1/competitions/{cid}/stats", 200),
            Action("read a private competition", "GET", f"/v1/competitions/{secret['id']}", 200),
            Action("read private scores before the end", "GET",
                   f"/v1/competitions/{cid}/leaderboard", 200, params={"split": "private"}),
            Action("search users", "GET", "/v1/admin/users", 200),
            Action("create LRS credentials", "POST", "/v1/admin/lrs-clients", 201,
                   json={"name": "attacker's tool", "scopes": ["statements/write"]}),
            Action("read the audit log", "GET", "/v1/admin/audit", 200),
            Action("list dead letters", "GET", "/v1/admin/dead-letters", 200),
            Action("rebuild a leaderboard", "POST", "/v1/admin/rebuilds", 202,
                   json={"target": "leaderboards", "competition_id": cid}),
        ]  # fmt: skip
        yield Scene(stack, root, actions)
    print("\n" + TALLY.table(), flush=True)


async def _admin(scene: Scene) -> User:
    """Register a user, make them an administrator, and sign them in afresh (admin claim)."""
    user = await scene.stack.sign_up()
    promoted = await scene.stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json={"role": "admin"}, headers=scene.root
    )
    assert promoted.status_code == 200, promoted.text
    user.token = await scene.stack.login(user.email, PASSWORD)
    return user


async def _change(scene: Scene, user: User, **change: Any) -> None:
    changed = await scene.stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json=change, headers=scene.root
    )
    assert changed.status_code == 200, changed.text


async def _replay(
    scene: Scene, user: User, attack: Attack | None = None
) -> list[tuple[str, int, str]]:
    """Perform every admin action with the user's token; count each answer in `attack`."""
    answers = []
    for action in scene.actions:
        got = await scene.stack.http.request(
            action.method, action.path, json=action.json, params=action.params, headers=user.auth
        )
        if attack is not None:
            attack.count(got, got.status_code < 400)
        code = got.json().get("code", "") if got.status_code >= 400 else ""
        answers.append((action.name, got.status_code, code))
    return answers


async def test_a_demoted_admin_loses_every_admin_power_with_the_same_token(scene: Scene) -> None:
    deputy = await _admin(scene)
    before = await _replay(scene, deputy)
    assert [status for _, status, _ in before] == [a.succeeded for a in scene.actions], before

    await _change(scene, deputy, role="user")

    # The demotion takes effect as soon as identity committed it; await it as a condition.
    async def refused() -> bool:
        got = await scene.stack.http.get("/v1/admin/users", headers=deputy.auth)
        return got.status_code == 403

    await eventually(refused, timeout=10, message="demotion in effect")
    attack = TALLY.attack("demoted admin's token, 9 admin actions")
    after = await _replay(scene, deputy, attack)
    attack.assert_failed()
    assert {status for _, status, _ in after} <= {403, 404}, after
    # The token itself still works for what an ordinary user may do.
    me = await scene.stack.http.get("/v1/competitions", headers=deputy.auth)
    assert me.status_code == 200, me.text


async def test_a_disabled_admin_and_a_disabled_user_are_refused_at_once(scene: Scene) -> None:
    admin, user = await _admin(scene), await scene.stack.sign_up()
    for who in (admin, user):
        got = await scene.stack.http.get("/v1/competitions", headers=who.auth)
        assert got.status_code == 200, got.text
        await _change(scene, who, disabled=True)
    attack = TALLY.attack("disabled admin's and user's tokens")
    after = await _replay(scene, admin, attack)
    assert [(status, code) for _, status, code in after] == [(401, "TOKEN_REVOKED")] * len(
        scene.actions
    ), after
    got = await scene.stack.http.get("/v1/competitions", headers=user.auth)
    attack.count(got, got.status_code < 400)
    assert (got.status_code, got.json()["code"]) == (401, "TOKEN_REVOKED")
    attack.assert_failed()


async def test_an_unknown_account_with_an_admin_claim_is_not_an_admin(scene: Scene) -> None:
    # A token for an account erased since it was issued: the claim alone proves nothing.
    gone = await _admin(scene)
    erased = await scene.stack.http.delete(f"/v1/admin/users/{gone.user_id}", headers=scene.root)
    assert erased.status_code == 202, erased.text
    got = await scene.stack.http.get("/v1/admin/users", headers=gone.auth)
    assert got.status_code == 401, got.text
    assert uuid.UUID(gone.user_id)

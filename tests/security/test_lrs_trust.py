"""Replay: an LRS client the competition does not trust earns nobody points (ADR 0054).

The attack (issue 13): any LRS client with `statements/write` could post
statements naming any learner and so earn that learner points in any activity
competition. Here a second tool, with valid credentials but not trusted by the
competition, posts a burst of statements that match the rules for a
participant (by account and by e-mail), tries to take the trusted tool's
points back by voiding, and tries to trust itself. Then the trusted tool posts
one statement: once its points show on the board, every earlier statement of
that learner has been through the pipeline. The attacker must have earned 0
points, changed nothing, and never seen a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, XAPI_VERSION, login, lrs_client
from podium_runtime.testing import TestInfrastructure, eventually
from test_activity_points import (
    LESSONS,
    PASSED,
    VOIDED,
    ActivityStack,
    account,
    activity_stack,
    recent,
    statement,
)

from security.tally import Tally

pytestmark = pytest.mark.slow

TALLY = Tally()


def _passed(actor: dict[str, Any], at: datetime, activity: str) -> dict[str, Any]:
    """A passed lesson with a high score: 25 points under the suite's rules."""
    return statement(actor, at, verb=PASSED, activity=activity, result={"score": {"scaled": 0.9}})


@pytest.fixture(scope="module")
async def lms(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ActivityStack]:
    async with activity_stack(test_infra, tmp_path_factory.mktemp("lrs-trust")) as stack:
        yield stack
    print("\n" + TALLY.table(), flush=True)


async def test_an_untrusted_lrs_client_earns_no_points(lms: ActivityStack) -> None:
    admin = await login(lms.http, ADMIN_EMAIL, ADMIN_PASSWORD)
    intruder = await lrs_client(lms.http, admin, "untrusted tool", ["statements/write"])
    owner, learner, outsider = await lms.sign_up(), await lms.sign_up(), await lms.sign_up()
    competition = await lms.competition(owner)
    cid = competition["id"]
    await lms.join(competition, learner)
    now = recent()
    # The trusted tool's statement first (a pass, 25 points): the intruder will try to void it.
    (kept,) = await lms.post_statements(_passed(account(learner), now, LESSONS + "a"))
    await lms.board_is(cid, [(learner, 25)])

    attack = TALLY.attack("untrusted LRS client earning points")
    # Completions (10 points each if they counted) by account and by e-mail, and a voiding.
    burst = [
        statement(account(learner), now, activity=f"{LESSONS}forged-{i}", id=str(uuid.uuid4()))
        for i in range(20)
    ]
    burst.append(statement({"mbox": f"mailto:{learner.email}"}, now, activity=LESSONS + "m"))
    burst.append(
        statement(
            account(learner),
            now,
            verb=VOIDED,
            object={"objectType": "StatementRef", "id": kept},
        )
    )
    sent = await lms.http.post(
        "/xapi/statements", json=burst, headers={**intruder.auth, **XAPI_VERSION}
    )
    # The LRS stores the statements (xAPI lets a tool report for its learners)...
    assert sent.status_code == 200, sent.text
    attack.count(sent, False)  # stored is not counted: the points decide, below
    # ...but neither the intruder's operator nor a participant can make them count.
    body = {"lrs_client_ids": [intruder.client_id]}
    for who in (learner, outsider):
        tried = await lms.http.put(
            f"/v1/competitions/{cid}/trusted-lrs-clients", json=body, headers=who.auth
        )
        attack.count(tried, tried.status_code < 400)
        assert tried.status_code in (403, 404), tried.text
    tried = await lms.http.post(
        f"/v1/admin/lrs-clients/{intruder.client_id}/trust",
        json={"competition_id": cid},
        headers=learner.auth,
    )
    attack.count(tried, tried.status_code < 400)
    assert tried.status_code == 403, tried.text

    # The trusted tool again, once per actor. One actor's statements travel in order (keyed
    # by actor), so the learner holding exactly these three passes means every statement
    # of the burst was handled before, and none of them counted: no mix of completions
    # and passes other than three passes makes 75 points from three statements.
    await lms.post_statements(
        _passed(account(learner), now, LESSONS + "b"),
        _passed({"mbox": f"mailto:{learner.email}"}, now, LESSONS + "c"),
    )

    async def settled() -> dict[str, Any] | None:
        entries = (await lms.board(cid))["entries"]
        score = [(e["user_id"], e["score"], e["submissions"]) for e in entries]
        return entries[0] if score == [(learner.user_id, 75, 3)] else None

    entry = await eventually(settled, timeout=30, message="the trusted passes counted")
    board = await lms.http.get(f"/v1/competitions/{cid}/leaderboard")
    attack.count(board, entry["score"] != 75)
    attack.assert_failed()
    trusted = await lms.http.get(f"/v1/competitions/{cid}/trusted-lrs-clients", headers=owner.auth)
    assert trusted.json() == {"lrs_client_ids": [lms.lrs_client_id], "any_lrs_client": False}


async def test_the_sponsor_decides_which_clients_count_and_it_is_audited(
    lms: ActivityStack,
) -> None:
    admin = await login(lms.http, ADMIN_EMAIL, ADMIN_PASSWORD)
    me = await lms.http.get("/v1/users/me", headers={"Authorization": f"Bearer {admin}"})
    admin_id = me.json()["id"]
    second = await lrs_client(lms.http, admin, "second tool", ["statements/write"])
    owner, learner = await lms.sign_up(), await lms.sign_up()
    competition = await lms.competition(owner)
    cid = competition["id"]
    await lms.join(competition, learner)
    now = recent()
    # An admin trusts the second tool as well (SPEC §10.5): both tools count.
    added = await lms.http.post(
        f"/v1/admin/lrs-clients/{second.client_id}/trust",
        json={"competition_id": cid},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert added.status_code == 200, added.text
    assert set(added.json()["lrs_client_ids"]) == {lms.lrs_client_id, second.client_id}
    sent = await lms.http.post(
        "/xapi/statements",
        json=[statement(account(learner), now, activity=LESSONS + "x")],
        headers={**second.auth, **XAPI_VERSION},
    )
    assert sent.status_code == 200, sent.text
    await lms.board_is(cid, [(learner, 10)])
    # The sponsor keeps the second tool only: the first one's statements stop counting.
    kept = await lms.http.put(
        f"/v1/competitions/{cid}/trusted-lrs-clients",
        json={"lrs_client_ids": [second.client_id]},
        headers=owner.auth,
    )
    assert kept.status_code == 200, kept.text
    await lms.post_statements(statement(account(learner), now, activity=LESSONS + "y"))
    sent = await lms.http.post(
        "/xapi/statements",
        json=[statement(account(learner), now, activity=LESSONS + "z")],
        headers={**second.auth, **XAPI_VERSION},
    )
    assert sent.status_code == 200, sent.text
    await lms.board_is(cid, [(learner, 20)])
    audit = await lms.http.get(
        "/v1/admin/audit",
        params={"action": "competition.lrs_trust_changed", "target": cid},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert audit.status_code == 200, audit.text
    # The stack's own trust at creation, the admin's addition, the sponsor's list.
    actors = [(e["actor_id"], e["after"]) for e in reversed(audit.json()["items"])]
    assert [actor for actor, _ in actors] == [owner.user_id, admin_id, owner.user_id]
    assert actors[-1][1] == {"lrs_client_ids": [second.client_id]}
    prediction = await lms.http.put(
        "/v1/competitions/00000000-0000-4000-8000-000000000000/trusted-lrs-clients",
        json={"lrs_client_ids": []},
        headers=owner.auth,
    )
    assert prediction.status_code == 404

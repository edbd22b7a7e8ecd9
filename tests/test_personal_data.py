"""Erasure end to end: `DELETE /v1/users/me` removes a user's personal data from every schema.

All six services run on real infrastructure. A learner takes part in an
activity competition, earns points from xAPI statements and gets
notifications; after the erasure no table of any service holds their e-mail
or name (the messaging tables aside: outbox rows are purged by retention),
their statements are gone, and the board keeps an anonymous row with the same
points (issue 18).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from ops_support.stack import OpsStack, completed, ops_stack
from platform_support.stack import PASSWORD

pytestmark = pytest.mark.slow

SCHEMAS = ("identity", "competitions", "scoring", "ingest", "notifier", "rewards")
#: Messaging tables: outbox payloads are purged by retention, inbox rows hold ids only.
MESSAGING = {"outbox", "processed_events", "alembic_version"}


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """The whole platform, once for the module."""
    async with ops_stack(test_infra, tmp_path_factory.mktemp("personal-data")) as running:
        yield running


async def _tables_mentioning(connection: asyncpg.Connection, *needles: str) -> list[str]:
    """Return `schema.table` of every non-messaging table with a row containing a needle."""
    tables = await connection.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'",
        list(SCHEMAS),
    )
    found = []
    for row in tables:
        if row["table_name"] in MESSAGING:
            continue
        name = f'"{row["table_schema"]}"."{row["table_name"]}"'
        for needle in needles:
            hits = await connection.fetchval(
                f"SELECT count(*) FROM {name} t WHERE lower(t::text) LIKE '%' || lower($1) || '%'",  # noqa: S608 - names from the catalogue
                needle,
            )
            if hits:
                found.append(f"{name} ({needle})")
    return found


async def test_erasure_leaves_nothing_personal_and_keeps_boards_consistent(
    stack: OpsStack,
) -> None:
    owner = await stack.sign_up()
    name = f"Erasable {uuid.uuid4().hex[:8]}"
    learner = await stack.sign_up(name)
    other = await stack.sign_up()
    competition = await stack.activity_competition(owner)
    cid = competition["id"]
    for user in (learner, other):
        await stack.join(cid, user)
    by_mail = completed(learner, "lesson-mail")
    by_mail["actor"] = {"mbox": f"mailto:{learner.email}", "name": name}
    mine = await stack.post_statements(completed(learner, "lesson-1"), by_mail)
    await stack.post_statements(completed(other, "lesson-1"))

    async def board() -> list[dict[str, Any]]:
        got = await stack.http.get(f"/v1/competitions/{cid}/leaderboard")
        assert got.status_code == 200, got.text
        return got.json()["entries"]  # type: ignore[no-any-return]

    async def both_ranked() -> list[dict[str, Any]] | None:
        # The learner's two statements have different actors, so they travel as two
        # events and may reach the board one after the other: wait for both lessons.
        entries = await board()
        names = {e["display_name"] for e in entries}
        points = [e["score"] for e in entries if e["user_id"] == learner.user_id]
        # Both lessons count: the mbox statement resolves to the learner too.
        return entries if len(entries) == 2 and name in names and points == [20] else None

    before = await eventually(
        both_ranked, timeout=60, message="both on the board, the learner with 20"
    )

    connection = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        assert await _tables_mentioning(connection, learner.email, name)  # the check can fail

        erased = await stack.http.delete("/v1/users/me", headers=learner.auth)
        assert erased.status_code == 202, erased.text
        refused = await stack.http.post(
            "/v1/auth/login", json={"email": learner.email, "password": PASSWORD}
        )
        assert refused.status_code == 401

        async def nothing_left() -> bool:
            return not await _tables_mentioning(connection, learner.email, name)

        await eventually(nothing_left, timeout=60, message="no table mentions the learner")
        for statement_id in mine:
            got = await stack.http.get(f"/v1/admin/statements/{statement_id}", headers=stack.admin)
            assert got.status_code == 404
        notifier_rows = await connection.fetchval(
            "SELECT (SELECT count(*) FROM notifier.notifications WHERE user_id = $1)"
            " + (SELECT count(*) FROM notifier.participants WHERE user_id = $1)",
            uuid.UUID(learner.user_id),
        )
        assert notifier_rows == 0
    finally:
        await connection.close()

    async def anonymous() -> list[dict[str, Any]] | None:
        entries = await board()
        row = next((e for e in entries if e["user_id"] == learner.user_id), None)
        return entries if row and row["display_name"] == "Deleted user" else None

    after = await eventually(anonymous, timeout=30, message="an anonymous board row")
    assert [(e["user_id"], e["rank"], e["score"]) for e in after] == [
        (e["user_id"], e["rank"], e["score"]) for e in before
    ]
    audit = await stack.http.get(
        "/v1/admin/audit", params={"action": "user.deleted", "target": learner.user_id},
        headers=stack.admin,
    )  # fmt: skip
    [entry] = audit.json()["items"]
    assert entry["actor_id"] == learner.user_id and learner.email not in str(entry)


async def test_admins_erase_other_accounts_and_only_admins_may(stack: OpsStack) -> None:
    user, other = await stack.sign_up(), await stack.sign_up()
    refused = await stack.http.delete(f"/v1/admin/users/{other.user_id}", headers=user.auth)
    assert refused.status_code == 403
    erased = await stack.http.delete(f"/v1/admin/users/{user.user_id}", headers=stack.admin)
    assert erased.status_code == 202
    gone = await stack.http.get(f"/v1/admin/users/{user.user_id}", headers=stack.admin)
    assert gone.status_code == 404
    again = await stack.http.delete(f"/v1/admin/users/{user.user_id}", headers=stack.admin)
    assert again.status_code == 404
    me = (await stack.http.get("/v1/users/me", headers=stack.admin)).json()
    self_erase = await stack.http.delete(f"/v1/admin/users/{me['id']}", headers=stack.admin)
    assert self_erase.status_code == 409

"""Data tools end to end: ETL freshness, counts, prebuilt queries, raw statements, reminders.

All six services run on real infrastructure behind the gateway (SPEC §10.5,
seed 001 §a.05-a.07b, seed 004 CP6). Queries are chosen by name only: no SQL
reaches a database through these routes, and a test proves it.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from ops_support.stack import COMPLETED, OpsStack, completed, ops_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """The whole platform, once for the module."""
    async with ops_stack(test_infra, tmp_path_factory.mktemp("data-tools")) as running:
        yield running


def _by_service(body: dict[str, Any]) -> dict[str, Any]:
    return {item["service"]: item for item in body["items"]}


async def test_non_admins_are_refused_every_data_tool(stack: OpsStack) -> None:
    user = await stack.sign_up()
    for method, path, body in [
        ("GET", "/v1/admin/etl", None),
        ("GET", "/v1/admin/summary", None),
        ("GET", "/v1/admin/queries", None),
        ("POST", "/v1/admin/queries/ingest.statements_per_verb_per_day", {"params": {}}),
        ("POST", "/v1/admin/retention", {}),
        ("GET", f"/v1/admin/statements/{uuid.uuid4()}", None),
        ("GET", "/v1/admin/reminders/preview", None),
    ]:
        answer = await stack.http.request(method, path, json=body, headers=user.auth)
        assert answer.status_code == 403, (path, answer.text)


async def test_freshness_counts_raw_statement_and_reminder_preview(stack: OpsStack) -> None:
    owner, done, pending = [await stack.sign_up() for _ in range(3)]
    competition = await stack.activity_competition(owner)
    for user in (done, pending):
        await stack.join(competition["id"], user)
    [statement_id] = await stack.post_statements(completed(done))

    async def ingested() -> dict[str, Any] | None:
        got = await stack.http.get("/v1/admin/etl", headers=stack.admin)
        assert got.status_code == 200, got.text
        ingest = _by_service(got.json())["ingest"]["report"]
        return got.json() if ingest["details"]["last_statement_id"] == statement_id else None

    etl = _by_service(await eventually(ingested, timeout=30, message="ingest reports it"))
    assert set(etl) == {"competitions", "scoring", "ingest", "notifier"}
    for service, item in etl.items():
        assert item["error"] is None, item
        report = item["report"]
        assert report["consumer_group"] == service
        assert report["last_event_at"] is not None and report["events_last_hour"] >= 1
        assert all(lag["lag"] >= 0 for lag in report["lag"])
    assert etl["ingest"]["report"]["details"]["statements"] >= 1

    raw = await stack.http.get(f"/v1/admin/statements/{statement_id}", headers=stack.admin)
    assert raw.status_code == 200 and raw.json()["id"] == statement_id
    assert raw.json()["verb"]["id"] == COMPLETED
    missing = await stack.http.get(f"/v1/admin/statements/{uuid.uuid4()}", headers=stack.admin)
    assert missing.status_code == 404

    summary = _by_service((await stack.http.get("/v1/admin/summary", headers=stack.admin)).json())
    assert set(summary) == {"identity", "competitions", "scoring", "ingest", "notifier"}
    tables = {t["table"]: t["rows"] for t in summary["identity"]["report"]["tables"]}
    assert tables["users"] >= 4 and tables["audit_log"] >= 1
    competitions_tables = {t["table"] for t in summary["competitions"]["report"]["tables"]}
    assert {"competitions", "enrollments", "outbox", "processed_events"} <= competitions_tables

    # The notifier knows who completed today's goal: only the other participant is due.
    async def previewed() -> list[Any] | None:
        got = await stack.http.get("/v1/admin/reminders/preview", headers=stack.admin)
        assert got.status_code == 200, got.text
        mine = [i for i in got.json()["items"] if i["competition_id"] == competition["id"]]
        return mine if {i["user_id"] for i in mine} == {pending.user_id} else None

    [due] = await eventually(previewed, timeout=30, message="reminder preview")

    # Competitions and the notifier agree on who takes part.
    async def agreed() -> dict[str, Any] | None:
        got = await stack.http.get("/v1/admin/integrity", headers=stack.admin)
        assert got.status_code == 200, got.text
        checks = {c["name"]: c for c in got.json()["checks"]}
        # The worker's database also holds other modules' competitions, whose events
        # travelled on other topics: judge this test's competition only.
        ours = [
            p
            for p in checks["enrollments_in_notifier"]["problems"]
            if p["competition_id"] == competition["id"]
        ]
        return checks if "error" not in checks["enrollments_in_notifier"] and not ours else None

    checks = await eventually(agreed, timeout=30, message="enrollments agree")
    assert not [
        p
        for p in checks["leaderboard_mirror"]["problems"]
        if p.get("competition_id") == competition["id"]
    ]
    assert due["local_date"] == datetime.now(UTC).date().isoformat()


async def test_prebuilt_queries_run_by_name_only(stack: OpsStack) -> None:
    user = await stack.sign_up()
    await stack.post_statements(completed(user, "lesson-q"), completed(user, "lesson-r"))
    catalogue = await stack.http.get("/v1/admin/queries", headers=stack.admin)
    names = {q["name"] for q in catalogue.json()["items"]}
    assert {
        "competitions.active_participants_per_competition",
        "ingest.statements_per_verb_per_day",
        "scoring.submissions_rejected_by_code",
        "notifier.notifications_per_type_per_day",
        "identity.registrations_per_day",
    } <= names

    today = date.today()
    params = {"since": (today - timedelta(days=1)).isoformat(), "until": today.isoformat()}

    async def counted() -> dict[str, Any] | None:
        ran = await stack.http.post(
            "/v1/admin/queries/ingest.recent_statements_of_user",
            json={"params": {"user_id": user.user_id}},
            headers=stack.admin,
        )
        assert ran.status_code == 200, ran.text
        return ran.json() if len(ran.json()["rows"]) == 2 else None

    await eventually(counted, timeout=30, message="both statements flattened")
    per_verb = await stack.http.post(
        "/v1/admin/queries/ingest.statements_per_verb_per_day",
        json={"params": params},
        headers=stack.admin,
    )
    assert per_verb.status_code == 200, per_verb.text
    body = per_verb.json()
    assert body["columns"] == ["day", "verb_id", "statements", "voided"]
    completed_today = [r for r in body["rows"] if r[1] == COMPLETED]
    assert completed_today and sum(r[2] for r in completed_today) >= 2

    registrations = await stack.http.post(
        "/v1/admin/queries/identity.registrations_per_day",
        json={"params": {"since": today.isoformat()}},
        headers=stack.admin,
    )
    assert registrations.status_code == 200 and registrations.json()["rows"][-1][1] >= 1

    # Only names and parameters are accepted: SQL has nowhere to go.
    for name, payload, status, code in [
        ("ingest.statements_per_verb_per_day", {"sql": "SELECT 1"}, 422, None),
        ("ingest.statements_per_verb_per_day", {"params": params, "sql": "DELETE"}, 422, None),
        ("ingest.DROP TABLE ingest.statements", {"params": {}}, 404, "UNKNOWN_QUERY"),
        ("SELECT 1", {"params": {}}, 404, "UNKNOWN_QUERY"),
        ("ingest.statements_per_verb_per_day", {"params": {"since": "yesterday"}}, 422, None),
        (
            "identity.registrations_per_day",
            {"params": {"since": params["since"], "x": 1}},
            422,
            None,
        ),
    ]:
        refused = await stack.http.post(
            f"/v1/admin/queries/{name}", json=payload, headers=stack.admin
        )
        assert refused.status_code == status, (name, refused.text)
        if code:
            assert refused.json()["code"] == code
    # A parameter is bound, never spliced into the text: this is just a status nobody has.
    injected = await stack.http.post(
        "/v1/admin/queries/competitions.active_participants_per_competition",
        json={"params": {"status": "x' OR '1'='1"}},
        headers=stack.admin,
    )
    assert injected.status_code == 200 and injected.json()["rows"] == []


async def test_retention_purges_old_sent_outbox_rows_and_inbox_ids(stack: OpsStack) -> None:
    before = await stack.http.get("/v1/admin/summary", headers=stack.admin)
    identity_outbox = {
        t["table"]: t["rows"] for t in _by_service(before.json())["identity"]["report"]["tables"]
    }["outbox"]
    assert identity_outbox > 0
    kept = await stack.http.post("/v1/admin/retention", json={}, headers=stack.admin)
    assert kept.status_code == 200
    assert all(i["report"]["outbox_sent"] == 0 for i in kept.json()["items"])

    purged = await stack.http.post(
        "/v1/admin/retention", json={"outbox_sent_days": 0, "inbox_days": 0}, headers=stack.admin
    )
    assert _by_service(purged.json())["identity"]["report"]["outbox_sent"] > 0
    after = _by_service((await stack.http.get("/v1/admin/summary", headers=stack.admin)).json())
    identity_tables = {t["table"]: t["rows"] for t in after["identity"]["report"]["tables"]}
    assert identity_tables["outbox"] < identity_outbox
    audited = await stack.http.get(
        "/v1/admin/audit", params={"action": "retention.run"}, headers=stack.admin
    )
    assert audited.json()["items"][0]["before"] == {"outbox_sent_days": 0, "inbox_days": 0}

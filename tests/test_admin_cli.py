"""The `podium` command line against a running stack: every admin command (SPEC §10.5).

Every service, rewards included, on real infrastructure; each command runs
through `podium_gateway.console.run` (the entry point's own function) over
HTTP against the gateway, as an administrator would run it, and its effect is
checked through the API. The users, audit and dead-letter commands are also
exercised in `test_admin_users.py` and `test_admin_dead_letters.py`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from podium_gateway.console import run as podium
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from ops_support.stack import PLATFORM, OpsStack, completed, ops_stack
from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """Every service, rewards included, for the module."""
    async with ops_stack(
        test_infra, tmp_path_factory.mktemp("admin-cli"), with_rewards=True
    ) as running:
        yield running


class Cli:
    """Runs `podium` as the administrator (logging in with e-mail and password)."""

    def __init__(self, stack: OpsStack) -> None:
        self.environ = {
            "PODIUM_URL": stack.url,
            "PODIUM_ADMIN_EMAIL": ADMIN_EMAIL,
            "PODIUM_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }

    async def __call__(self, *argv: str, status: int = 0) -> tuple[Any, str]:
        """Run one command; return its parsed JSON output (or text) and its stderr."""
        out, err = io.StringIO(), io.StringIO()
        code = await podium(list(argv), self.environ, out, err)
        assert code == status, (argv, err.getvalue())
        text = out.getvalue()
        try:
            return json.loads(text), err.getvalue()
        except json.JSONDecodeError:
            return text, err.getvalue()


@pytest.fixture
def cli(stack: OpsStack) -> Cli:
    """The command line, as the administrator."""
    return Cli(stack)


async def _installed(*argv: str, environ: dict[str, str]) -> tuple[int, str, str]:
    """Run the `podium` executable of the environment (the server runs on this event loop)."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "podium"),
        *argv,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_installed_command_runs(stack: OpsStack) -> None:
    """The `podium` executable of the environment is the same command line."""
    environ = {
        **os.environ,
        "PODIUM_URL": stack.url,
        "PODIUM_TOKEN": stack.admin["Authorization"].removeprefix("Bearer "),
    }
    code, out, err = await _installed("summary", environ=environ)
    assert code == 0, err
    services = {report["service"] for report in json.loads(out)["items"]}
    assert {"identity", "competitions", "ingest"} <= services
    code, _, err = await _installed("summary", environ={**environ, "PODIUM_TOKEN": "not-a-token"})
    assert code == 1 and json.loads(err)["status"] == 401


async def test_rebuild_commands_start_follow_and_show_progress(stack: OpsStack, cli: Cli) -> None:
    owner, learner = await stack.sign_up(), await stack.sign_up()
    cid = (await stack.activity_competition(owner))["id"]
    await stack.join(cid, learner)
    await stack.post_statements(completed(learner, "cli-rebuild"))

    async def on_board() -> bool:
        got = await stack.http.get(f"/v1/competitions/{cid}/leaderboard")
        return len(got.json()["entries"]) == 1

    await eventually(on_board, timeout=60, message="the learner on the board")
    before = (await stack.http.get(f"/v1/competitions/{cid}/leaderboard")).json()["entries"]

    job, progress = await cli(
        "rebuilds", "start", "--target", "activity_boards", "--competition", cid, "--wait"
    )
    assert job["status"] == "succeeded" and job["done"] == job["total"] >= 1
    lines = progress.splitlines()
    assert lines[-1] == f"succeeded: {job['done']}/{job['total']}"
    after = (await stack.http.get(f"/v1/competitions/{cid}/leaderboard")).json()["entries"]
    assert after == before
    shown, _ = await cli("rebuilds", "show", job["id"])
    assert shown["id"] == job["id"] and shown["status"] == "succeeded"
    followed, progress = await cli("jobs", "show", job["id"], "--wait")
    assert followed["status"] == "succeeded" and progress.startswith("succeeded")
    flat, _ = await cli("rebuilds", "start", "--target", "statements_flat")
    assert flat["status"] in ("queued", "running", "succeeded")
    # Refusals come back as problems on stderr with status 1.
    _, err = await cli("rebuilds", "show", str(uuid.uuid4()), status=1)
    assert json.loads(err)["status"] == 404


async def test_data_tool_commands(stack: OpsStack, cli: Cli) -> None:
    owner, learner, idle = await stack.sign_up(), await stack.sign_up(), await stack.sign_up()
    cid = (await stack.activity_competition(owner))["id"]
    for user in (learner, idle):
        await stack.join(cid, user)
    [statement_id] = await stack.post_statements(completed(learner, "cli-data"))

    freshness, _ = await cli("etl")
    reported = {r["service"] for r in freshness["items"] if r["report"]}
    assert {"competitions", "scoring", "ingest", "notifier"} <= reported

    summary, _ = await cli("summary")
    tables = {r["service"]: r["report"]["tables"] for r in summary["items"] if r["report"]}
    assert {"identity", "competitions", "scoring", "ingest", "notifier"} <= set(tables)

    async def stored() -> dict[str, Any] | None:
        out, err = io.StringIO(), io.StringIO()
        code = await podium(["statements", "show", statement_id], cli.environ, out, err)
        return json.loads(out.getvalue()) if code == 0 else None

    raw = await eventually(stored, timeout=30, message="the statement is stored")
    raw = raw.get("statement", raw)
    assert raw["actor"]["account"] == {"homePage": PLATFORM, "name": learner.user_id}

    async def idle_reminded() -> bool:
        preview, _ = await cli("reminders", "preview")
        due = {(r["competition_id"], r["user_id"]) for r in preview["items"]}
        return (cid, idle.user_id) in due

    await eventually(idle_reminded, timeout=30, message="the idle learner's reminder previewed")

    catalogue, _ = await cli("queries", "list")
    names = {q["name"] for q in catalogue["items"]}
    assert "competitions.active_participants_per_competition" in names
    result, _ = await cli(
        "queries", "run", "competitions.active_participants_per_competition", "--param",
        "status=active",
    )  # fmt: skip
    column = result["columns"].index("competition_id")
    assert cid in {row[column] for row in result["rows"]}
    _, err = await cli("queries", "run", "no.such_query", status=1)
    assert json.loads(err)["code"] == "UNKNOWN_QUERY"

    checks, _ = await cli("integrity")
    assert "leaderboard_mirror" in {c["name"] for c in checks["checks"]}
    repaired, _ = await cli("integrity", "--repair")
    assert "leaderboard_mirror" in {c["name"] for c in repaired["checks"]}

    purged, _ = await cli("retention", "run", "--outbox-sent-days", "30", "--inbox-days", "60")
    assert {"identity", "competitions"} <= {r["service"] for r in purged["items"] if r["report"]}
    [entry] = (
        await stack.http.get(
            "/v1/admin/audit", params={"action": "retention.run", "limit": 1}, headers=stack.admin
        )
    ).json()["items"]
    assert entry["before"] == {"outbox_sent_days": 30.0, "inbox_days": 60.0}


async def test_audit_and_user_commands(stack: OpsStack, cli: Cli) -> None:
    owner, doomed = await stack.sign_up(), await stack.sign_up()
    cid = (await stack.activity_competition(owner))["id"]
    about, _ = await cli("audit", "list", "--competition", cid)
    # The stack's competitions trust its learning tool as they are made (ADR 0054).
    assert [e["action"] for e in about["items"]] == [
        "competition.lrs_trust_changed",
        "competition.created",
    ]
    exported, _ = await cli("audit", "export", "--competition", cid, "--format", "csv")
    assert exported.splitlines()[0].startswith("id,") and cid in exported

    erased, _ = await cli("users", "erase", doomed.user_id)
    assert erased == {"status": 202}
    refused = await stack.http.post(
        "/v1/auth/login", json={"email": doomed.email, "password": "x" * 16}
    )
    assert refused.status_code == 401
    _, err = await cli("users", "show", doomed.user_id, status=1)
    assert json.loads(err)["status"] == 404
    [entry] = (await cli("audit", "list", "--action", "user.deleted", "--target", doomed.user_id))[
        0
    ]["items"]
    assert entry["target_id"] == doomed.user_id


async def test_lrs_client_and_xapi_erasure_commands(stack: OpsStack, cli: Cli) -> None:
    made, _ = await cli(
        "lrs-clients",
        "create",
        "cli tool",
        "--scope",
        "statements/write",
        "--scope",
        "statements/read",
    )
    assert made["secret"] and sorted(made["scopes"]) == ["statements/read", "statements/write"]
    listed, _ = await cli("lrs-clients", "list")
    assert made["id"] in {c["id"] for c in listed["items"]}
    owner = await stack.sign_up()
    cid = (await stack.activity_competition(owner))["id"]
    trusted, _ = await cli("lrs-clients", "trust", made["id"], "--competition", cid)
    assert set(trusted["lrs_client_ids"]) == {stack.lrs_client_id, made["id"]}
    revoked, _ = await cli("lrs-clients", "revoke", made["id"])
    assert revoked == {"status": 204}
    listed, _ = await cli("lrs-clients", "list")
    assert made["id"] not in {c["id"] for c in listed["items"]}
    with_revoked, _ = await cli("lrs-clients", "list", "--include-revoked")
    assert made["id"] in {c["id"] for c in with_revoked["items"]}

    mbox = f"mailto:cli-{uuid.uuid4().hex[:8]}@podium.test"
    statement = {
        "actor": {"mbox": mbox},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "https://lessons.example/cli/erase"},
    }
    [statement_id] = await stack.post_statements(statement)

    async def stored() -> bool:
        got = await stack.http.get(f"/v1/admin/statements/{statement_id}", headers=stack.admin)
        return got.status_code == 200

    await eventually(stored, timeout=30, message="the statement is stored")
    erased, _ = await cli("xapi", "erase", "--agent", json.dumps({"mbox": mbox}))
    assert erased["statements"] >= 1
    gone = await stack.http.get(f"/v1/admin/statements/{statement_id}", headers=stack.admin)
    assert gone.status_code == 404


async def test_rewards_commands_from_a_drawing_to_a_shipped_prize(
    stack: OpsStack, cli: Cli, tmp_path: Path
) -> None:
    buyer = await stack.sign_up()
    wallet, _ = await cli(
        "wallets", "adjust", buyer.user_id, "--points", "50", "--reason", "cli grant"
    )
    assert wallet["balance"] == 50
    now = datetime.now(UTC)
    body = tmp_path / "drawing.json"
    body.write_text(
        json.dumps(
            {
                "name": f"CLI sweepstakes {uuid.uuid4().hex[:6]}",
                "ticket_cost_points": 10,
                "max_tickets_per_user": 5,
                "sales_open_at": (now - timedelta(minutes=1)).isoformat(),
                "sales_close_at": (now + timedelta(days=1)).isoformat(),
                "drawing_at": (now + timedelta(days=1, hours=1)).isoformat(),
                "prizes": [{"rank": 1, "name": "Mug", "value": 10, "kind": "physical"}],
            }
        )
    )
    drawing, _ = await cli("drawings", "create", "--body", str(body))
    did = drawing["id"]
    assert drawing["status"] == "draft"
    for status in ("scheduled", "open"):
        moved, _ = await cli("drawings", "update", did, "--status", status)
        assert moved["status"] == status
    bought = await stack.http.post(
        f"/v1/drawings/{did}/tickets",
        json={"quantity": 2, "birthdate": "1990-05-17"},
        headers={**buyer.auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert bought.status_code == 201, bought.text
    listed, _ = await cli("drawings", "list")
    assert did in {d["id"] for d in listed["items"]}
    await cli("drawings", "update", did, "--status", "closed")
    executed, _ = await cli("drawings", "execute", did)
    assert [w["user_id"] for w in executed["winners"]] == [buyer.user_id]

    [prize] = (await stack.http.get("/v1/fulfillments", headers=buyer.auth)).json()["items"]
    address = {
        "name": "Ada Lovelace",
        "line1": "1 Main Street",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    }
    given = await stack.http.put(
        f"/v1/fulfillments/{prize['id']}/address", json=address, headers=buyer.auth
    )
    assert given.status_code == 200, given.text
    everything, _ = await cli("fulfillments", "list")
    assert prize["id"] in {f["id"] for f in everything["items"]}
    shipment = tmp_path / "ship.json"
    shipment.write_text(json.dumps({"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}))
    shipped, _ = await cli("fulfillments", "ship", prize["id"], "--body", str(shipment))
    assert shipped["status"] == "shipped"
    delivered_body = tmp_path / "delivered.json"
    delivered_body.write_text(json.dumps({"status": "delivered"}))
    delivered, _ = await cli("fulfillments", "update", prize["id"], "--body", str(delivered_body))
    assert delivered["status"] == "delivered"


async def test_a_non_admin_is_refused_by_every_command_group(stack: OpsStack) -> None:
    user = await stack.sign_up()
    environ = {"PODIUM_URL": stack.url, "PODIUM_TOKEN": user.token}
    for argv in (
        ["summary"],
        ["etl"],
        ["integrity"],
        ["queries", "list"],
        ["reminders", "preview"],
        ["rebuilds", "start", "--target", "leaderboards"],
        ["retention", "run"],
        ["lrs-clients", "list"],
        ["fulfillments", "list"],
        ["users", "erase", str(uuid.uuid4())],
        ["audit", "list"],
    ):
        out, err = io.StringIO(), io.StringIO()
        assert await podium(argv, environ, out, err) == 1, argv
        assert json.loads(err.getvalue())["status"] == 403, argv

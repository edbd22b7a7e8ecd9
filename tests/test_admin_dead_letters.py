"""Dead letters end to end: a poison event is dead-lettered, the cause fixed, the event replayed.

A real consumer (the runtime's probe service: one ledger row per join request,
through the inbox) refuses one event until its cause is fixed; the gateway's
admin API lists it from the dead-letter topic, replays it to the original
topic, and the ledger then holds exactly one row for it however often it is
replayed. Discards are recorded with their reason and never replayed. Real
Kafka-protocol broker, Postgres, Redis, identity and gateway (SPEC §10.5).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from podium_contracts.events import JoinData, JoinRequested
from podium_runtime.broker import EVENTS_HANDLED
from podium_runtime.migrations import upgrade
from podium_runtime.outbox import new_event
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.testing import TestInfrastructure, eventually

ROOT = Path(__file__).resolve().parents[1]
PROBE_DIR = ROOT / "libs/runtime/tests/integration"
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(PROBE_DIR))

from platform_support.stack import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    login,
    run_id,
    serve_gateway,
    serve_identity,
    sign_up,
)
from podium_gateway.console import run as podium  # noqa: E402
from probe import SCHEMA, ProbeSettings, build_probe, ledger_rows  # noqa: E402

pytestmark = pytest.mark.slow


@dataclass
class DlqStack:
    """The gateway, the admin's header, the probe consumer and what it refuses."""

    url: str
    http: httpx.AsyncClient
    admin: dict[str, str]
    probe: ServiceRuntime
    refused: set[uuid.UUID]
    topic_prefix: str

    async def dead_letters(self, **params: Any) -> list[dict[str, Any]]:
        """Return the dead letters listed by the admin API."""
        answer = await self.http.get("/v1/admin/dead-letters", params=params, headers=self.admin)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]  # type: ignore[no-any-return]

    async def finished(self, job: dict[str, Any]) -> dict[str, Any]:
        """Await the job's end; return its final state."""

        async def done() -> dict[str, Any] | None:
            state = (await self.http.get(f"/v1/admin/jobs/{job['id']}", headers=self.admin)).json()
            return state if state["status"] in ("succeeded", "failed") else None

        state = await eventually(done, message="the job finishes")
        assert state["status"] == "succeeded", state
        return state


def join_event() -> JoinRequested:
    """A join request no other suite knows."""
    event = new_event(
        JoinRequested,
        "gateway",
        JoinData(request_id=uuid.uuid4(), competition_id=uuid.uuid4(), user_id=uuid.uuid4()),
    )
    assert isinstance(event, JoinRequested)
    return event


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DlqStack]:
    """Identity, the gateway and the probe consumer on topics of their own."""
    await test_infra.migrate("identity")
    prefix = await test_infra.fresh_topics()
    probe_settings = test_infra.settings(
        ProbeSettings, kafka_topic_prefix=prefix, consumer_max_attempts=2
    )
    await asyncio.to_thread(
        upgrade, PROBE_DIR / "probe_migrations", probe_settings.database_url, SCHEMA
    )
    refused: set[uuid.UUID] = set()
    probe = build_probe(probe_settings, "dlq-replay", fail_for=refused)
    run = run_id()
    async with contextlib.AsyncExitStack() as exit_stack:
        identity = await serve_identity(exit_stack, test_infra, tmp_path_factory.mktemp("dlq"), run)
        url, http = await serve_gateway(
            exit_stack, test_infra, run, identity_url=identity, kafka_topic_prefix=prefix
        )
        await probe.start()
        exit_stack.push_async_callback(probe.stop)
        token = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield DlqStack(url, http, {"Authorization": f"Bearer {token}"}, probe, refused, prefix)


async def _poisoned(stack: DlqStack) -> tuple[JoinRequested, dict[str, Any]]:
    """Publish an event the probe refuses and one after it; return it and its dead letter."""
    poison, healthy = join_event(), join_event()
    stack.refused.add(poison.data.request_id)
    await stack.probe.publisher.publish(poison, healthy)
    await eventually(
        lambda: ledger_rows(stack.probe, {healthy.data.request_id}),
        message="the consumer moved past the poison",
    )

    async def listed() -> list[dict[str, Any]]:
        return [d for d in await stack.dead_letters() if d["event_id"] == str(poison.id)]

    [entry] = await eventually(listed, message="the poison is listed")
    return poison, entry


async def test_dead_letter_round_trip_applies_the_event_exactly_once(stack: DlqStack) -> None:
    poison, entry = await _poisoned(stack)
    assert entry["topic"] == "podium.joins"
    assert entry["event_type"] == "join.requested"
    assert entry["error_code"] == "RuntimeError" and "cannot cope" in entry["error"]
    assert entry["attempts"] == 2 and entry["consumer"] == "probe"
    assert entry["status"] == "pending" and entry["failed_at"] == entry["first_failed_at"]
    assert await ledger_rows(stack.probe, {poison.data.request_id}) == []

    shown = await stack.http.get(
        f"/v1/admin/dead-letters/podium.joins/{entry['partition']}/{entry['offset']}",
        headers=stack.admin,
    )
    assert shown.status_code == 200
    assert shown.json()["event"]["data"]["request_id"] == str(poison.data.request_id)
    assert shown.json()["headers"]["x-error-code"] == "RuntimeError"

    stack.refused.discard(poison.data.request_id)  # the cause is fixed
    position = {"partition": entry["partition"], "offset": entry["offset"]}
    job = await stack.http.post(
        "/v1/admin/dead-letters/replay",
        json={"topic": "podium.joins", "offsets": [position]},
        headers=stack.admin,
    )
    assert job.status_code == 202 and job.json()["status"] in ("queued", "running", "succeeded")
    state = await stack.finished(job.json())
    assert state["done"] == state["total"] == 1
    rows = await eventually(
        lambda: ledger_rows(stack.probe, {poison.data.request_id}), message="replay applied"
    )
    assert rows == [(poison.data.request_id, "dlq-replay")]

    # A second replay of the same record does nothing: it is no longer pending.
    again = await stack.http.post(
        "/v1/admin/dead-letters/replay",
        json={"topic": "podium.joins", "offsets": [position]},
        headers=stack.admin,
    )
    assert (await stack.finished(again.json()))["total"] == 0
    # And the very same event arriving once more is skipped by the consumer's inbox.
    duplicates = EVENTS_HANDLED.labels(
        stack.topic_prefix + "podium.joins", poison.type, "duplicate"
    )
    before = duplicates._value.get()
    await stack.probe.publisher.publish(poison)

    async def skipped() -> bool:
        return duplicates._value.get() > before

    await eventually(skipped, message="the duplicate is skipped")
    assert await ledger_rows(stack.probe, {poison.data.request_id}) == rows

    [listed] = [d for d in await stack.dead_letters() if d["event_id"] == str(poison.id)]
    assert listed["status"] == "replayed" and listed["decided_by"]
    audit = await stack.http.get(
        "/v1/admin/audit",
        params={
            "action": "dead_letter.replayed",
            "target": f"podium.joins/{entry['partition']}/{entry['offset']}",
        },
        headers=stack.admin,
    )
    [recorded] = audit.json()["items"]
    assert recorded["after"]["event_id"] == str(poison.id)
    assert recorded["service"] == "gateway" and recorded["actor_role"] == "admin"


async def test_discarded_dead_letters_keep_their_reason_and_are_never_replayed(
    stack: DlqStack,
) -> None:
    poison, entry = await _poisoned(stack)
    stack.refused.discard(poison.data.request_id)
    job = await stack.http.post(
        "/v1/admin/dead-letters/discard",
        json={
            "topic": "podium.joins",
            "offsets": [{"partition": entry["partition"], "offset": entry["offset"]}],
            "reason": "test data from a misconfigured tool",
        },
        headers=stack.admin,
    )
    assert job.status_code == 202, job.text
    assert (await stack.finished(job.json()))["done"] == 1
    [listed] = [d for d in await stack.dead_letters() if d["event_id"] == str(poison.id)]
    assert listed["status"] == "discarded"
    assert listed["reason"] == "test data from a misconfigured tool"
    assert [d["event_id"] for d in await stack.dead_letters(status="discarded")] == [str(poison.id)]

    # "Replay everything pending of this type" leaves the discarded one alone.
    everything = await stack.http.post(
        "/v1/admin/dead-letters/replay",
        json={"topic": "podium.joins", "filter": {"event_type": "join.requested"}},
        headers=stack.admin,
    )
    state = await stack.finished(everything.json())
    assert f"podium.joins/{entry['partition']}/{entry['offset']}" not in state["result"]["replayed"]
    assert await ledger_rows(stack.probe, {poison.data.request_id}) == []


async def test_dead_letter_routes_refuse_non_admins_and_bad_input(stack: DlqStack) -> None:
    user = await sign_up(stack.http, "Curious")
    for method, path, body in [
        ("GET", "/v1/admin/dead-letters", None),
        ("GET", "/v1/admin/dead-letters/podium.joins/0/0", None),
        ("POST", "/v1/admin/dead-letters/replay", {"topic": "podium.joins"}),
        ("POST", "/v1/admin/dead-letters/discard", {"topic": "podium.joins", "reason": "x"}),
        ("GET", f"/v1/admin/jobs/{uuid.uuid4()}", None),
    ]:
        answer = await stack.http.request(method, path, json=body, headers=user.auth)
        assert answer.status_code == 403, (path, answer.text)
    unknown = await stack.http.get(
        "/v1/admin/dead-letters", params={"topic": "nope"}, headers=stack.admin
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "UNKNOWN_TOPIC"
    no_reason = await stack.http.post(
        "/v1/admin/dead-letters/discard", json={"topic": "podium.joins"}, headers=stack.admin
    )
    assert no_reason.status_code == 422
    missing = await stack.http.get(
        "/v1/admin/dead-letters/podium.joins/0/999999", headers=stack.admin
    )
    assert missing.status_code == 404
    no_job = await stack.http.get(f"/v1/admin/jobs/{uuid.uuid4()}", headers=stack.admin)
    assert no_job.status_code == 404


async def test_cli_lists_and_replays_dead_letters(stack: DlqStack) -> None:
    poison, entry = await _poisoned(stack)
    environ = {
        "PODIUM_URL": stack.url,
        "PODIUM_ADMIN_EMAIL": ADMIN_EMAIL,
        "PODIUM_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }

    async def cli(*argv: str) -> Any:
        out, err = io.StringIO(), io.StringIO()
        assert await podium(list(argv), environ, out, err) == 0, err.getvalue()
        return json.loads(out.getvalue())

    listed = await cli("dead-letters", "list", "--topic", "podium.joins", "--status", "pending")
    assert str(poison.id) in {d["event_id"] for d in listed["items"]}
    shown = await cli(
        "dead-letters", "show", "podium.joins", str(entry["partition"]), str(entry["offset"])
    )
    assert shown["event"]["id"] == str(poison.id)
    stack.refused.discard(poison.data.request_id)
    job = await cli(
        "dead-letters",
        "replay",
        "--topic",
        "podium.joins",
        "--at",
        f"{entry['partition']}:{entry['offset']}",
    )
    await stack.finished(job)
    assert (await cli("jobs", "show", job["id"]))["status"] == "succeeded"
    await eventually(lambda: ledger_rows(stack.probe, {poison.data.request_id}), message="replayed")

"""Notifications end to end: identity, notifier and gateway real, SSE included (SPEC §5.6, §7.4)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from podium_contracts.events import (
    EnrollmentAccepted,
    EnrollmentData,
    ScoredData,
    SubmissionScored,
)
from podium_gateway import stream_api
from podium_gateway.app import create_api as create_gateway
from podium_gateway.config import Settings as GatewaySettings
from podium_identity.app import create_api as create_identity
from podium_identity.config import Settings as IdentitySettings
from podium_identity.keys import write_key_file
from podium_notifier.app import build_app, create_service
from podium_notifier.config import Settings as NotifierSettings
from podium_notifier.devsink import read_mails
from podium_runtime.infra import create_topics, ensure_database
from podium_runtime.migrations import upgrade
from podium_runtime.outbox import new_event
from podium_runtime.ports import free_port
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.service_credentials import auth_for
from podium_runtime.testing import REPO_ROOT, TestInfrastructure, eventually, serve

PASSWORD = "Correct horse battery 9"
#: Streams one user may hold open in the gateway of this module.
MAX_STREAMS = 3
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


@dataclass
class Stack:
    """Gateway, identity and notifier (with its dev SMTP sink) on real infrastructure."""

    gateway: httpx.AsyncClient
    notifier: httpx.AsyncClient
    runtime: ServiceRuntime
    mail_dir: Path


@dataclass
class Account:
    """A registered, logged-in user."""

    user_id: uuid.UUID
    email: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    run = uuid.uuid4().hex[:8]
    await test_infra.migrate("identity")
    # Its own topics, database and consumer group: notifier suites in one run stay independent.
    topic_prefix = f"{test_infra.topic_prefix}e2e{run}."
    await create_topics(test_infra.infra.kafka_bootstrap_servers, topic_prefix)
    notifier_db = await ensure_database(test_infra.infra.database_url, f"{run}_notifier_e2e")
    await asyncio.to_thread(
        upgrade, REPO_ROOT / "services" / "notifier" / "migrations", notifier_db, "notifier"
    )
    keys_dir = tmp_path_factory.mktemp("keys")
    write_key_file(keys_dir, "k1")
    mail_dir = tmp_path_factory.mktemp("mails")
    identity = create_identity(
        test_infra.settings(
            IdentitySettings,
            kafka_topic_prefix=topic_prefix,
            jwt_keys_dir=keys_dir,
            jwt_active_kid="k1",
            redis_key_prefix=f"t{run}:identity:",
            **FAST_ARGON2,
        )
    )
    # The notifier runs its development SMTP sink in-process, as under `make dev`.
    service = create_service(
        test_infra.settings(
            NotifierSettings,
            service_name="notifier-e2e",
            kafka_topic_prefix=topic_prefix,
            database_url=notifier_db,
            dev_smtp_sink=True,
            dev_mail_dir=mail_dir,
            smtp_port=free_port(),
            public_base_url="http://podium.test",
            email_poll_seconds=0.2,
            scheduler_enabled=False,
        )
    )
    os.environ["PODIUM_GATEWAY_STREAM_HEARTBEAT_SECONDS"] = "0.5"
    os.environ["PODIUM_GATEWAY_STREAM_MAX_PER_USER"] = str(MAX_STREAMS)
    stream_api.stream_settings.cache_clear()
    try:
        async with serve(identity) as identity_url, serve(build_app(service)) as notifier_url:
            gateway = create_gateway(
                test_infra.settings(
                    GatewaySettings,
                    kafka_topic_prefix=topic_prefix,
                    identity_url=identity_url,
                    notifier_url=notifier_url,
                    redis_key_prefix=f"t{run}:gateway:",
                )
            )
            async with (
                serve(gateway) as gateway_url,
                httpx.AsyncClient(base_url=gateway_url, timeout=30) as client,
                httpx.AsyncClient(
                    base_url=notifier_url, auth=auth_for(service.runtime.settings)
                ) as internal,
            ):
                yield Stack(client, internal, service.runtime, mail_dir)
    finally:
        os.environ.pop("PODIUM_GATEWAY_STREAM_HEARTBEAT_SECONDS", None)
        os.environ.pop("PODIUM_GATEWAY_STREAM_MAX_PER_USER", None)
        stream_api.stream_settings.cache_clear()


async def signup(stack: Stack) -> Account:
    address = f"n{uuid.uuid4().hex[:10]}@example.org"
    created = await stack.gateway.post(
        "/v1/auth/register",
        json={"email": address, "password": PASSWORD, "display_name": "Noor"},
    )
    assert created.status_code == 201, created.text
    login = await stack.gateway.post(
        "/v1/auth/login", json={"email": address, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return Account(uuid.UUID(created.json()["id"]), address, headers)


def scored(user_id: uuid.UUID) -> SubmissionScored:
    now = datetime.now(UTC)
    event = new_event(
        SubmissionScored,
        "scoring",
        ScoredData(
            submission_id=uuid.uuid4(),
            competition_id=uuid.uuid4(),
            user_id=user_id,
            metric="rmse",
            higher_is_better=False,
            public_score=1.25,
            private_score=1.3,
            submitted_at=now,
            scored_at=now,
        ),
    )
    assert isinstance(event, SubmissionScored)
    return event


class EventStream:
    """An open GET /v1/stream connection whose events are parsed into a queue."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.heartbeats = 0
        self.skipped: list[dict[str, Any]] = []
        self.opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.status: int | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.opened.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self) -> None:
        async with self.client.stream("GET", "/v1/stream", headers=self.headers) as response:
            self.status = response.status_code
            assert response.headers["content-type"].startswith("text/event-stream")
            event: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if line.startswith(": connected"):
                    self.opened.set()
                elif line.startswith(": heartbeat"):
                    self.heartbeats += 1
                elif line.startswith("event: "):
                    event["event"] = line[7:]
                elif line.startswith("id: "):
                    event["id"] = int(line[4:])
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
                elif line == "" and event:
                    await self.events.put(event)
                    event = {}

    async def next(self, timeout: float = 15.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def until(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        """Return the first not yet returned event called `name`, waiting for it if needed."""
        for event in self.skipped:
            if event["event"] == name:
                self.skipped.remove(event)
                return event
        while True:
            event = await self.next(timeout)
            if event["event"] == name:
                return event
            self.skipped.append(event)


async def test_registration_mails_a_token_that_verifies_the_address(stack: Stack) -> None:
    account = await signup(stack)

    async def mail() -> list[dict[str, Any]]:
        return read_mails(stack.mail_dir, account.email)

    [message] = await eventually(mail, timeout=20, message="verification mail in the dev sink")
    link = next(u for u in message["links"] if "/verify-email?token=" in u)
    assert link.startswith("http://podium.test/verify-email?token=")
    token = parse_qs(urlparse(link).query)["token"][0]
    # A developer lists the mails of the dev sink through the notifier's internal API.
    listed = await stack.notifier.get("/internal/dev/mails", params={"to": account.email})
    assert listed.status_code == 200 and listed.json()[0]["links"] == message["links"]

    # Clicking the link (same path and query on the gateway) confirms the address.
    clicked = await stack.gateway.get("/verify-email", params={"token": token})
    assert clicked.status_code == 200, clicked.text
    assert "confirmed" in clicked.text and clicked.headers["content-type"].startswith("text/html")
    me = await stack.gateway.get("/v1/users/me", headers=account.headers)
    assert me.json()["email_verified"] is True
    # The token was single-use: the API refuses it now, and so does the link.
    again = await stack.gateway.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400, again.text
    assert (await stack.gateway.get("/verify-email", params={"token": token})).status_code == 400


async def test_scored_submission_reaches_its_owner_only(stack: Stack) -> None:
    alice, bob = await signup(stack), await signup(stack)
    # The verification mail follows user.registered on the same partition: once it is in the
    # sink, the notifier knows Alice's address (an unknown user gets in-app only).
    await eventually(lambda: asyncio.sleep(0, read_mails(stack.mail_dir, alice.email)), timeout=20)
    async with (
        EventStream(stack.gateway, alice.headers) as alice_stream,
        EventStream(stack.gateway, bob.headers) as bob_stream,
    ):
        event = scored(alice.user_id)
        await stack.runtime.publisher.publish(event)

        async def stored() -> Any:
            page = await stack.gateway.get("/v1/notifications", headers=alice.headers)
            return page.json()["items"]

        await eventually(stored, message="stored in the inbox")
        note = await alice_stream.until("notification")
        assert note["data"]["type"] == "submission.scored"
        assert note["data"]["data"]["submission_id"] == str(event.data.submission_id)
        assert note["id"] == note["data"]["seq"]
        live = await alice_stream.until("submission.scored")
        assert live["data"]["public_score"] == 1.25
        # Bob's stream gets his own event next, and nothing of Alice's before it.
        competition = uuid.uuid4()
        await stack.runtime.publisher.publish(
            new_event(
                EnrollmentAccepted,
                "competitions",
                EnrollmentData(competition_id=competition, user_id=bob.user_id),
            )
        )
        first = await bob_stream.next()
        assert first["event"] == "enrollment.updated"
        assert first["data"]["competition_id"] == str(competition)
        assert bob_stream.heartbeats + alice_stream.heartbeats >= 0
        await eventually(lambda: asyncio.sleep(0, bob_stream.heartbeats > 0), message="a heartbeat")

    inbox = await stack.gateway.get("/v1/notifications", headers=alice.headers)
    assert inbox.status_code == 200
    [item] = inbox.json()["items"]
    assert item["id"] == note["data"]["id"]
    # Bob can neither read nor mark Alice's notification.
    assert (await stack.gateway.get("/v1/notifications", headers=bob.headers)).json()["items"][0][
        "type"
    ] == "enrollment.accepted"
    stolen = await stack.gateway.post(f"/v1/notifications/{item['id']}/read", headers=bob.headers)
    assert stolen.status_code == 404 and stolen.json()["code"] == "NOTIFICATION_NOT_FOUND"
    read = await stack.gateway.post(f"/v1/notifications/{item['id']}/read", headers=alice.headers)
    assert read.status_code == 200 and read.json()["read_at"]
    unread = await stack.gateway.get(
        "/v1/notifications", params={"unread": "true"}, headers=alice.headers
    )
    assert unread.json()["items"] == [] and unread.json()["unread_count"] == 0
    # And the scored e-mail arrived in the dev sink.
    mails = await eventually(
        lambda: asyncio.sleep(
            0,
            [m for m in read_mails(stack.mail_dir, alice.email) if "scored" in m["subject"]],
        ),
        message="scored mail",
    )
    assert mails


async def test_reconnect_with_last_event_id_replays_what_was_missed(stack: Stack) -> None:
    user = await signup(stack)
    async with EventStream(stack.gateway, user.headers) as stream:
        await stack.runtime.publisher.publish(scored(user.user_id))
        seen = await stream.until("notification")
    missed = [scored(user.user_id) for _ in range(2)]
    await stack.runtime.publisher.publish(*missed)

    async def stored() -> bool:
        page = await stack.gateway.get("/v1/notifications", headers=user.headers)
        return len(page.json()["items"]) == 3

    await eventually(stored, message="missed notifications stored")
    resumed_headers = {**user.headers, "Last-Event-ID": str(seen["id"])}
    async with EventStream(stack.gateway, resumed_headers) as stream:
        replayed = [await stream.until("notification") for _ in range(2)]
    assert sorted(e["data"]["data"]["submission_id"] for e in replayed) == sorted(
        str(e.data.submission_id) for e in missed
    )
    assert all(e["id"] > seen["id"] for e in replayed)


async def test_preferences_through_the_gateway(stack: Stack) -> None:
    user = await signup(stack)
    defaults = await stack.gateway.get("/v1/notifications/preferences", headers=user.headers)
    assert defaults.status_code == 200
    assert defaults.json()["preferences"]["leaderboard.rank_changed"]["email"] is False
    changed = await stack.gateway.put(
        "/v1/notifications/preferences",
        json={"preferences": {"reminder.daily": {"email": False}}},
        headers=user.headers,
    )
    assert changed.status_code == 200
    assert changed.json()["preferences"]["reminder.daily"] == {"in_app": True, "email": False}
    unknown = await stack.gateway.put(
        "/v1/notifications/preferences",
        json={"preferences": {"nope": {"email": False}}},
        headers=user.headers,
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "UNKNOWN_NOTIFICATION_TYPE"
    bad_channel = await stack.gateway.put(
        "/v1/notifications/preferences",
        json={"preferences": {"reminder.daily": {"sms": True}}},
        headers=user.headers,
    )
    assert bad_channel.status_code == 422 and bad_channel.json()["code"] == "VALIDATION_ERROR"


async def test_profile_and_inbox_show_the_same_preferences(stack: Stack) -> None:
    """`/v1/users/me` and `/v1/notifications/preferences` are two views of one matrix."""
    user = await signup(stack)
    patched = await stack.gateway.patch(
        "/v1/users/me",
        json={
            "display_name": "Renamed",
            "notification_preferences": {"submission.scored": {"email": False}},
        },
        headers=user.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_name"] == "Renamed"
    assert patched.json()["notification_preferences"]["submission.scored"]["email"] is False
    matrix = await stack.gateway.get("/v1/notifications/preferences", headers=user.headers)
    assert matrix.json()["preferences"]["submission.scored"] == {"in_app": True, "email": False}
    await stack.gateway.put(
        "/v1/notifications/preferences",
        json={"preferences": {"submission.scored": {"email": True}}},
        headers=user.headers,
    )
    me = await stack.gateway.get("/v1/users/me", headers=user.headers)
    assert me.json()["notification_preferences"]["submission.scored"]["email"] is True
    refused = await stack.gateway.patch(
        "/v1/users/me",
        json={"notification_preferences": {"nope": {"email": True}}},
        headers=user.headers,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "UNKNOWN_NOTIFICATION_TYPE"


async def test_routes_require_a_token_and_valid_input(stack: Stack) -> None:
    for method, path in (
        ("GET", "/v1/notifications"),
        ("GET", "/v1/notifications/preferences"),
        ("GET", "/v1/stream"),
        ("POST", f"/v1/notifications/{uuid.uuid4()}/read"),
    ):
        response = await stack.gateway.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("application/problem+json")
    user = await signup(stack)
    bad_id = await stack.gateway.post("/v1/notifications/not-a-uuid/read", headers=user.headers)
    assert bad_id.status_code == 422
    bad_cursor = await stack.gateway.get(
        "/v1/notifications", params={"cursor": "garbage!"}, headers=user.headers
    )
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "INVALID_CURSOR"
    bad_resume = await stack.gateway.get(
        "/v1/stream", headers={**user.headers, "Last-Event-ID": "x1"}
    )
    assert bad_resume.status_code == 422
    assert bad_resume.json()["code"] == "INVALID_LAST_EVENT_ID"


async def _pubsub_connections(stack: Stack) -> int:
    return len(await stack.runtime.redis.client_list(_type="pubsub"))


async def test_streams_share_one_redis_connection_and_are_capped_per_user(stack: Stack) -> None:
    alice, bob = await signup(stack), await signup(stack)
    before = await _pubsub_connections(stack)
    async with contextlib.AsyncExitStack() as streams:
        alice_streams = [
            await streams.enter_async_context(EventStream(stack.gateway, alice.headers))
            for _ in range(MAX_STREAMS)
        ]
        bob_stream = await streams.enter_async_context(EventStream(stack.gateway, bob.headers))
        # Four streams, one pub/sub connection at most for the whole gateway process.
        assert await _pubsub_connections(stack) - before <= 1

        # One stream too many: 429 with a stable code; Bob is not affected.
        refused = await stack.gateway.get("/v1/stream", headers=alice.headers)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "TOO_MANY_STREAMS"
        assert refused.json()["limit"] == MAX_STREAMS
        assert int(refused.headers["Retry-After"]) >= 1
        assert "X-Request-ID" in refused.headers

        # A message on Alice's channel reaches each of her streams, none of Bob's.
        await stack.runtime.publisher.publish(scored(alice.user_id))
        for alice_stream in alice_streams:
            live = await alice_stream.until("submission.scored")
            assert live["data"]["public_score"] == 1.25
        competition = uuid.uuid4()
        await stack.runtime.publisher.publish(
            new_event(
                EnrollmentAccepted,
                "competitions",
                EnrollmentData(competition_id=competition, user_id=bob.user_id),
            )
        )
        first = await bob_stream.until("enrollment.updated")
        assert first["data"]["competition_id"] == str(competition)
        assert not [e for e in bob_stream.skipped if e["event"] == "submission.scored"]

        # A closed stream frees its place once the gateway notices the client left.
        await alice_streams[0].__aexit__(None, None, None)

        async def admitted() -> bool:
            async with stack.gateway.stream("GET", "/v1/stream", headers=alice.headers) as got:
                return got.status_code == 200

        await eventually(admitted, timeout=20, message="a freed place is taken again")


async def test_streams_survive_the_loss_of_the_shared_connection(stack: Stack) -> None:
    """Redis drops the hub's connection: live messages still reach the user afterwards.

    Either the connection is re-established under the open stream, or the stream
    ends and the client's reconnect (as the web app does) gets the inbox's replay.
    """
    carol = await signup(stack)
    async with EventStream(stack.gateway, carol.headers) as first:
        killed = await stack.runtime.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        event = scored(carol.user_id)
        await stack.runtime.publisher.publish(event)
        try:
            note = await first.until("notification", timeout=10)
        except TimeoutError:
            note = None
    if note is None:
        async with EventStream(stack.gateway, {**carol.headers, "Last-Event-ID": "0"}) as second:
            note = await second.until("notification")
    assert note["data"]["data"]["submission_id"] == str(event.data.submission_id)
    # The hub serves new streams after the loss, and they get live messages.
    async with EventStream(stack.gateway, carol.headers) as third:
        later = scored(carol.user_id)
        await stack.runtime.publisher.publish(later)
        live = await third.until("submission.scored")
        assert live["data"]["public_score"] == 1.25

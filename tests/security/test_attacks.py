"""Replay the attacks of the penetration run (issue 13, items 6, 8 and 9) on a running stack.

Each test counts, per attack, what was tried, how often the attacker got their
way and how often the platform answered 500; both counts must be 0. The table
of every attack is printed when the module ends (`pytest -s` shows it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from podium_runtime.testing import TestInfrastructure, eventually, serve

sys.path.insert(0, str(Path(__file__).parents[1]))

from ops_support.stack import OpsStack, ops_stack
from platform_support.stack import PASSWORD, User, run_id, serve_gateway

from security.tally import Tally

TALLY = Tally()
XAPI_VERSION = {"X-Experience-API-Version": "1.0.3"}


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    async with ops_stack(test_infra, tmp_path_factory.mktemp("security")) as running:
        yield running
    print("\n" + TALLY.table(), flush=True)


@contextlib.asynccontextmanager
async def gateway(
    stack: OpsStack, test_infra: TestInfrastructure, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway on the same services, with the settings an attack needs."""
    async with contextlib.AsyncExitStack() as exits:
        urls = {f"{name}_url": url for name, url in stack.services.items()}
        _, http = await serve_gateway(exits, test_infra, run_id(), **{**urls, **settings})
        yield http


def cursor(raw: str) -> str:
    """Encode a cursor the way the API does, around values an attacker chose."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def login_body(user: User, password: str = PASSWORD) -> dict[str, str]:
    """The JSON of a login attempt."""
    return {"email": user.email, "password": password}


# --- item 6: client identity and login throttling --------------------------------------


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    """The peer is not a trusted proxy: X-Forwarded-For is the client's own invention."""
    victim = await stack.sign_up()
    attack = TALLY.attack("spoofed X-Forwarded-For, untrusted peer")
    async with gateway(stack, test_infra, rate_limit_login_ip=3) as http:
        for _ in range(3):
            await http.post("/v1/auth/login", json=login_body(victim, "wrong password 1"))
        for n in range(6):
            spoofed = {"X-Forwarded-For": f"203.0.113.{n}"}
            guess = await http.post(
                "/v1/auth/login", json=login_body(victim, f"guess {n}"), headers=spoofed
            )
            attack.count(guess, guess.status_code != 429)
        # Regression: the real password with a spoofed header logged in while locked out.
        real = await http.post(
            "/v1/auth/login", json=login_body(victim), headers={"X-Forwarded-For": "198.51.100.1"}
        )
        attack.count(real, real.status_code != 429)
    attack.assert_failed()


async def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    victim = await stack.sign_up()
    attack = TALLY.attack("spoofed X-Forwarded-For, trusted proxy")
    async with gateway(
        stack, test_infra, rate_limit_login_ip=3, trusted_proxies=["127.0.0.0/8"]
    ) as http:
        for n in range(8):
            # The ingress appends the address it saw; the attacker wrote everything left of it.
            forwarded = {"X-Forwarded-For": f"10.0.0.{n}, 192.0.2.{n}, 203.0.113.9"}
            guess = await http.post(
                "/v1/auth/login", json=login_body(victim, f"guess {n}"), headers=forwarded
            )
            attack.count(guess, n >= 3 and guess.status_code != 429)
        # Another client behind the same ingress keeps its own attempts for the same account.
        other = await http.post(
            "/v1/auth/login", json=login_body(victim), headers={"X-Forwarded-For": "203.0.113.10"}
        )
        attack.count(other, other.status_code == 429)
    attack.assert_failed()


async def test_one_ingress_address_cannot_lock_everybody_out(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    """Without trusted proxies every user behind the ingress shares its address."""
    victims = [await stack.sign_up() for _ in range(3)]
    bystander = await stack.sign_up()
    attack = TALLY.attack("login throttling turned against one ingress")
    async with gateway(stack, test_infra, rate_limit_login_ip=3) as http:
        for victim in victims:
            for n in range(5):
                await http.post("/v1/auth/login", json=login_body(victim, f"wrong {n}"))
        allowed = await http.post("/v1/auth/login", json=login_body(bystander))
        attack.count(allowed, allowed.status_code != 200)
    attack.assert_failed()


# --- item 8: inputs that used to answer 500 ----------------------------------------------


async def test_hostile_inputs_are_problems_not_500(stack: OpsStack) -> None:
    """The 16 inputs of the report, and their neighbours: each a 4xx problem with a code."""
    user = await stack.sign_up()
    owner = await stack.sign_up()
    board = await stack.activity_competition(owner)
    lrs = {**stack.lrs_auth, **XAPI_VERSION}
    deep_extension: Any = "leaf"
    for _ in range(200):
        deep_extension = {"http://x.test/e": deep_extension}
    statement = {
        "actor": {"mbox": "mailto:deep@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "http://x.test/a"},
        "context": {"extensions": deep_extension},
    }
    huge_statement = dict(statement, context={"extensions": {"http://x.test/e": "x" * (3 << 20)}})
    boundary = "securityboundary"
    multipart = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode()
        + json.dumps([huge_statement]).encode()
        + f"\r\n--{boundary}--".encode()
    )
    sse = "text/event-stream"
    board_path = f"/v1/competitions/{board['id']}/leaderboard"
    row = uuid.uuid4()
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "Last-Event-ID Unicode digits",
            "GET",
            "/v1/stream",
            {"headers": {**user.auth, "Last-Event-ID": "²³".encode("latin-1"), "Accept": sse}},
        ),
        (
            "Last-Event-ID 5000 digits",
            "GET",
            "/v1/stream",
            {"headers": {**user.auth, "Last-Event-ID": "9" * 5000, "Accept": sse}},
        ),
        ("leaderboard cursor true", "GET", board_path, {"params": {"cursor": cursor("[true]")}}),
        (
            "leaderboard cursor 10^30",
            "GET",
            board_path,
            {"params": {"cursor": cursor("[" + "9" * 30 + "]")}},
        ),
        (
            "leaderboard cursor 2^63",
            "GET",
            board_path,
            {"params": {"cursor": cursor(f"[{2**63}]")}},
        ),
        (
            "competition cursor year 0",
            "GET",
            "/v1/competitions",
            {"params": {"cursor": cursor(f'["0001-01-01T00:00:00+14:00", "{row}"]')}},
        ),
        (
            "competition cursor year 10000",
            "GET",
            "/v1/competitions",
            {"params": {"cursor": cursor(f'["9999-12-31T23:59:59-14:00", "{row}"]')}},
        ),
        ("xAPI limit=²", "GET", "/xapi/statements", {"params": {"limit": "²"}, "headers": lrs}),
        (
            "xAPI since before year 1",
            "GET",
            "/xapi/statements",
            {"params": {"since": "0001-01-01T00:00:00+14:00"}, "headers": lrs},
        ),
        (
            "xAPI agent nested 3000 deep",
            "GET",
            "/xapi/statements",
            {"params": {"agent": "[" * 3000 + "]" * 3000}, "headers": lrs},
        ),
        (
            "xAPI extensions nested 200 deep",
            "POST",
            "/xapi/statements",
            {"json": statement, "headers": lrs},
        ),
        (
            "xAPI 3 MiB statement as multipart",
            "POST",
            "/xapi/statements",
            {
                "content": multipart,
                "headers": {**lrs, "Content-Type": f"multipart/mixed; boundary={boundary}"},
            },
        ),
        (
            "NUL in display name (register)",
            "POST",
            "/v1/auth/register",
            {
                "content": b'{"email": "nul@example.org", "password": "'
                + PASSWORD.encode()
                + b'", "display_name": "a\\u0000b"}'
            },
        ),
        (
            "surrogate in display name (register)",
            "POST",
            "/v1/auth/register",
            {
                "content": b'{"email": "sur@example.org", "password": "'
                + PASSWORD.encode()
                + b'", "display_name": "a\\ud800b"}'
            },
        ),
        (
            "NUL in display name (profile)",
            "PATCH",
            "/v1/users/me",
            {"content": b'{"display_name": "a\\u0000b"}', "headers": user.auth},
        ),
        (
            "surrogate in display name (profile)",
            "PATCH",
            "/v1/users/me",
            {"content": b'{"display_name": "a\\udc00b"}', "headers": user.auth},
        ),
        (
            "NUL in competition title",
            "POST",
            "/v1/competitions",
            {"content": b'{"kind": "activity", "title": "a\\u0000b"}', "headers": owner.auth},
        ),
        (
            "surrogate in competition title",
            "POST",
            "/v1/competitions",
            {"content": b'{"kind": "activity", "title": "a\\ud800b"}', "headers": owner.auth},
        ),
        ("NUL in q=", "GET", "/v1/competitions?q=a%00b", {}),
        ("surrogate in q=", "GET", "/v1/competitions?q=a%ED%A0%80b", {}),
    ]
    attack = TALLY.attack("hostile inputs (item 8)")
    for name, method, path, options in cases:
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        request = stack.http.build_request(method, path, headers=headers, **options)
        response = await stack.http.send(request, stream=True)
        await response.aclose()  # a stream that opened would run forever; the status is enough
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        # A surrogate in a URL arrives as invalid UTF-8, read as U+FFFD: a harmless search.
        harmless = name == "surrogate in q=" and response.status_code == 200
        refused = 400 <= response.status_code < 500 and problem
        attack.count(response, not (refused or harmless))
        if not (refused or harmless):
            attack.notes.append(f"{name}: {response.status_code}")
    attack.assert_failed()


# --- item 9: the smaller findings --------------------------------------------------------


async def test_xapi_basic_auth_guessing_is_throttled(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    """Regression: refused LRS credentials were never counted, so secrets could be guessed."""
    key = base64.b64decode(stack.lrs_auth["Authorization"].split()[1]).decode().split(":")[0]
    attack = TALLY.attack("xAPI Basic-auth guessing")
    async with gateway(
        stack,
        test_infra,
        rate_limit_lrs_auth_failures=5,
        rate_limit_lrs_client=1_000_000,
        lrs_cache_seconds=120,
    ) as http:
        # The tool is at work (its verified credentials cached) when the guessing starts.
        working = await http.get("/xapi/statements", headers={**stack.lrs_auth, **XAPI_VERSION})
        assert working.status_code == 200, working.text
        for n in range(12):
            guess = "Basic " + base64.b64encode(f"{key}:guess-{n}".encode()).decode()
            answer = await http.get(
                "/xapi/statements", headers={"Authorization": guess, **XAPI_VERSION}
            )
            # Past 5 refusals the key is not even checked from this address.
            attack.count(answer, n >= 5 and answer.status_code != 429)
        limited = await http.get(
            "/xapi/statements",
            headers={"Authorization": "Basic " + base64.b64encode(b"x:y").decode(), **XAPI_VERSION},
        )
        # Another key from the same address is still checked (401, not 429) ...
        attack.count(limited, limited.status_code != 401)
        # ... and the tool at work keeps working: its verified credentials are not re-checked.
        tool = await http.get("/xapi/statements", headers={**stack.lrs_auth, **XAPI_VERSION})
        attack.count(tool, tool.status_code != 200)
        assert limited.status_code == 401 and tool.status_code == 200
    attack.assert_failed()


async def test_credentials_are_not_logged_when_an_insert_fails(
    stack: OpsStack, caplog: pytest.LogCaptureFixture
) -> None:
    """Racing registrations of one e-mail fail an INSERT; no hash or e-mail may reach the log."""
    email = f"race-{uuid.uuid4().hex[:8]}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": "Race"}
    attack = TALLY.attack("credentials in logs after a failed INSERT")
    with caplog.at_level(logging.WARNING):
        answers = await asyncio.gather(
            *(stack.http.post("/v1/auth/register", json=body) for _ in range(8))
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 201 and statuses.count(201) == 1, statuses
    # Errors and warnings are what a failed INSERT logs (with its traceback).
    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.levelno >= logging.WARNING
    )
    for answer in answers:
        attack.count(answer, "$argon2" in logged or email in logged)
    attack.assert_failed()


async def test_metrics_are_not_public_on_the_gateway(stack: OpsStack) -> None:
    attack = TALLY.attack("/metrics through the ingress")
    for header in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}):
        answer = await stack.http.get("/metrics", headers=header)
        attack.count(answer, answer.status_code == 200 or "podium_" in answer.text)
    attack.assert_failed()


async def test_token_answers_are_not_stored_by_caches(stack: OpsStack) -> None:
    user = await stack.sign_up()
    attack = TALLY.attack("token answers cacheable")
    login = await stack.http.post("/v1/auth/login", json=login_body(user))
    refresh = await stack.http.post(
        "/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    created = await stack.http.post(
        "/v1/admin/lrs-clients",
        json={"name": "cache check", "scopes": ["statements/read"]},
        headers=stack.admin,
    )
    for answer in (login, refresh, created):
        assert answer.status_code in (200, 201), answer.text
        attack.count(answer, answer.headers.get("cache-control") != "no-store")
    attack.assert_failed()


async def test_the_json_limit_cannot_be_raised_by_the_content_type(stack: OpsStack) -> None:
    attack = TALLY.attack("JSON limit bypass by Content-Type")
    big = b'{"email": "' + b"a" * (2 << 20) + b'@example.org", "password": "x"}'
    for content_type in ("multipart/form-data; boundary=x", "text/csv", "application/octet-stream"):
        answer = await stack.http.post(
            "/v1/auth/login", content=big, headers={"Content-Type": content_type}
        )
        attack.count(answer, answer.status_code != 413)
    attack.assert_failed()


async def test_errors_carry_the_security_headers_and_the_request_id(stack: OpsStack) -> None:
    """Every answer of the attacks above is checked here too, on a sample of error answers."""
    attack = TALLY.attack("error answers without headers")
    answers = [
        await stack.http.get("/v1/users/me"),
        await stack.http.get(f"/v1/competitions/{uuid.uuid4()}"),
        await stack.http.get("/v1/competitions", params={"cursor": "!!"}),
        await stack.http.post(
            "/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}
        ),
        await stack.http.get("/v1/competitions?q=%00"),
    ]
    for answer in answers:
        attack.count(answer, not _secured(answer))
    attack.assert_failed()


def broken_notifier() -> FastAPI:
    """A notifier that fails: 500 on every route, and an inbox page that is not JSON."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "PUT", "POST"])
    async def anything(path: str) -> Response:
        if path.endswith("/notifications"):
            return Response("<html>not json</html>", media_type="text/html")
        return Response("upstream failure", status_code=500, media_type="text/plain")

    return app


async def test_500_answers_carry_the_security_headers_and_the_request_id(
    stack: OpsStack, test_infra: TestInfrastructure
) -> None:
    """Regression: errors no handler expected skipped the security headers and X-Request-ID."""
    user = await stack.sign_up()
    attack = TALLY.attack("500 answers without headers")
    async with (
        serve(broken_notifier()) as notifier,
        gateway(stack, test_infra, notifier_url=notifier) as http,
    ):
        relayed = await http.get("/v1/notifications/preferences", headers=user.auth)
        # The gateway reads the inbox page itself: a body that is not JSON is unexpected.
        request = http.build_request(
            "GET", "/v1/stream", headers={**user.auth, "Last-Event-ID": "1"}
        )
        unexpected = await http.send(request, stream=True)
        await unexpected.aclose()
    assert relayed.status_code >= 500 and unexpected.status_code >= 500
    for answer in (relayed, unexpected):
        attack.count(answer, not _secured(answer), provoked_500=True)
    attack.assert_failed()


def _secured(answer: httpx.Response) -> bool:
    return bool(
        answer.headers.get("x-request-id")
        and answer.headers.get("x-content-type-options") == "nosniff"
        and "frame-ancestors 'none'" in answer.headers.get("content-security-policy", "")
    )


async def test_private_competitions_stay_private_to_strangers(stack: OpsStack) -> None:
    """Join refusals and rosters tell strangers nothing: no title, no user ids."""
    owner, member, stranger = [await stack.sign_up() for _ in range(3)]
    title = f"Secret sprint {uuid.uuid4().hex[:8]}"
    private = await stack.activity_competition(owner, title=title, visibility="private")
    public = await stack.activity_competition(owner)
    await stack.join(public["id"], member)
    attack = TALLY.attack("private title or user ids leaked")
    asked = await stack.http.post(f"/v1/competitions/{private['id']}/join", headers=stranger.auth)
    attack.count(asked, title in asked.text)

    async def decided() -> httpx.Response | None:
        got = await stack.http.get(
            f"/v1/competitions/{private['id']}/enrollment", headers=stranger.auth
        )
        return got if got.status_code != 200 or got.json().get("status") != "pending" else None

    if asked.status_code == 202:
        enrollment = await eventually(decided, timeout=30, message="join decided")
        attack.count(enrollment, title in enrollment.text)
    for notification in (await stack.http.get("/v1/notifications", headers=stranger.auth),):
        attack.count(notification, title in notification.text)
    roster = await stack.http.get(f"/v1/competitions/{public['id']}/participants")
    assert roster.status_code == 200, roster.text
    ids = [item["user_id"] for item in roster.json()["items"]]
    assert roster.json()["items"], "the member is on the roster"
    attack.count(roster, any(ids) or member.user_id in roster.text)
    attack.assert_failed()

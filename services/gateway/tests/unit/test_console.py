"""Every admin route of the gateway has a `podium` command (issue 18); no command dangles."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from fastapi.routing import APIRoute
from podium_gateway.app import routers
from podium_gateway.console import parser, request_for

ID = str(uuid.uuid4())

#: One invocation of every command (with its options, where they change the route).
COMMANDS = [
    ["users", "list", "--q", "ada"],
    ["users", "show", ID],
    ["users", "disable", ID],
    ["users", "enable", ID],
    ["users", "set-role", ID, "admin"],
    ["users", "resend-verification", ID],
    ["users", "erase", ID],
    ["audit", "list", "--competition", ID],
    ["audit", "export", "--format", "csv"],
    ["dead-letters", "list"],
    ["dead-letters", "show", "podium.joins", "0", "1"],
    ["dead-letters", "replay", "--topic", "podium.joins", "--at", "0:1"],
    ["dead-letters", "discard", "--topic", "podium.joins", "--reason", "test data"],
    ["jobs", "show", ID],
    ["rebuilds", "start", "--target", "leaderboards", "--competition", ID],
    ["rebuilds", "show", ID],
    ["etl"],
    ["summary"],
    ["integrity", "--repair"],
    ["reminders", "preview"],
    ["queries", "list"],
    ["queries", "run", "ingest.statements_per_verb_per_day", "--param", "since=2026-01-01"],
    ["statements", "show", ID],
    ["retention", "run", "--inbox-days", "40"],
    ["lrs-clients", "list"],
    ["lrs-clients", "create", "Moodle", "--scope", "statements/write"],
    ["lrs-clients", "revoke", ID],
    ["lrs-clients", "trust", ID, "--competition", ID],
    ["xapi", "erase", "--agent", '{"mbox": "mailto:a@example.org"}'],
    ["drawings", "list"],
    ["drawings", "create", "--body", "-"],
    ["drawings", "update", ID, "--status", "open"],
    ["drawings", "execute", ID],
    ["fulfillments", "list"],
    ["fulfillments", "update", ID, "--body", "-"],
    ["fulfillments", "ship", ID, "--body", "-"],
    ["wallets", "adjust", ID, "--points", "5", "--reason", "goodwill"],
]


def _admin_routes() -> dict[tuple[str, str], re.Pattern[str]]:
    found = {}
    for router in routers():
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path.startswith("/v1/admin"):
                pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$")
                for method in route.methods:
                    found[(method, route.path)] = pattern
    return found


def test_every_admin_route_has_a_command_and_every_command_a_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = _admin_routes()
    reached = set()
    for argv in COMMANDS:
        monkeypatch.setattr("sys.stdin", io.StringIO("{}"))  # `--body -`
        call = request_for(parser().parse_args(argv))
        matches = [
            key
            for key, pattern in routes.items()
            if key[0] == call.method and pattern.match(call.path)
        ]
        assert matches, f"podium {' '.join(argv)} calls {call.method} {call.path}: no such route"
        # The most specific template (fewest parameters) is the one FastAPI picks.
        reached.add(min(matches, key=lambda key: key[1].count("{")))
    missing = sorted(set(routes) - reached)
    assert missing == [], f"admin routes without a podium command: {missing}"


def test_wait_follows_the_job_the_command_started() -> None:
    started = request_for(
        parser().parse_args(["rebuilds", "start", "--target", "activity_boards", "--wait"])
    )
    assert (started.method, started.path, started.follow) == (
        "POST",
        "/v1/admin/rebuilds",
        "/v1/admin/rebuilds/",
    )
    assert started.json == {"target": "activity_boards"}
    assert request_for(parser().parse_args(["jobs", "show", ID])).follow is None

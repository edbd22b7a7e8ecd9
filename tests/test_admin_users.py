"""Administration of users and the audit log, end to end through the gateway and the CLI.

Identity, the gateway, Postgres, Redis and the broker are real (SPEC §10.5,
ADR 0037): non-admins get 403 everywhere, each change is audited once with
its before/after summary and request id, a disabled account loses its
refresh tokens and cannot log in, and the audit log refuses to be changed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PASSWORD,
    User,
    login,
    run_id,
    serve_gateway,
    serve_identity,
    sign_up,
)
from podium_gateway.console import run as podium
from podium_runtime.testing import TestInfrastructure

pytestmark = pytest.mark.slow


@dataclass
class AdminStack:
    """The gateway URL, a client on it, the admin's token and the database URL."""

    url: str
    http: httpx.AsyncClient
    admin: str
    database_url: str

    @property
    def admin_auth(self) -> dict[str, str]:
        """Return the admin's bearer header."""
        return {"Authorization": f"Bearer {self.admin}"}

    async def audit(self, **params: Any) -> list[dict[str, Any]]:
        """Return the audit entries matching `params`, newest first."""
        answer = await self.http.get("/v1/admin/audit", params=params, headers=self.admin_auth)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]  # type: ignore[no-any-return]

    async def cli(self, *argv: str, token: str | None = None) -> tuple[int, str, str]:
        """Run `podium argv...` against this gateway; return (status, stdout, stderr)."""
        environ = {"PODIUM_URL": self.url}
        if token is None:
            environ |= {"PODIUM_ADMIN_EMAIL": ADMIN_EMAIL, "PODIUM_ADMIN_PASSWORD": ADMIN_PASSWORD}
        else:
            environ["PODIUM_TOKEN"] = token
        out, err = io.StringIO(), io.StringIO()
        status = await podium(list(argv), environ, out, err)
        return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AdminStack]:
    """Identity and the gateway, started once for the module."""
    await test_infra.migrate("identity")
    run = run_id()
    async with contextlib.AsyncExitStack() as exit_stack:
        tmp: Path = tmp_path_factory.mktemp("admin")
        identity = await serve_identity(exit_stack, test_infra, tmp, run)
        url, http = await serve_gateway(exit_stack, test_infra, run, identity_url=identity)
        admin = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield AdminStack(url, http, admin, test_infra.database_url)


ADMIN_ROUTES = [
    ("GET", "/v1/admin/users", None),
    ("GET", f"/v1/admin/users/{uuid.uuid4()}", None),
    ("PATCH", f"/v1/admin/users/{uuid.uuid4()}", {"disabled": True}),
    ("POST", f"/v1/admin/users/{uuid.uuid4()}/resend-verification", None),
    ("GET", "/v1/admin/audit", None),
    ("GET", "/v1/admin/audit/export", None),
]


async def test_non_admins_get_403_and_anonymous_callers_401(stack: AdminStack) -> None:
    user = await sign_up(stack.http, "Mallory")
    for method, path, body in ADMIN_ROUTES:
        answer = await stack.http.request(method, path, json=body, headers=user.auth)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["code"] == "FORBIDDEN"
        anonymous = await stack.http.request(method, path, json=body)
        assert anonymous.status_code == 401, path
    status, _, err = await stack.cli("users", "list", token=user.token)
    assert status == 1 and "FORBIDDEN" in err


async def test_search_finds_users_by_name_or_email_and_pages(stack: AdminStack) -> None:
    tag = uuid.uuid4().hex[:6]
    made = [await sign_up(stack.http, f"Searchable {tag} {n}") for n in range(3)]
    await sign_up(stack.http, "Somebody else")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"q": f"searchable {tag}", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await stack.http.get("/v1/admin/users", params=params, headers=stack.admin_auth)
        assert page.status_code == 200, page.text
        seen += [u["id"] for u in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [u.user_id for u in reversed(made)]  # newest first, each once
    by_email = await stack.http.get(
        "/v1/admin/users", params={"q": made[0].email.upper()}, headers=stack.admin_auth
    )
    assert [u["id"] for u in by_email.json()["items"]] == [made[0].user_id]
    # A LIKE wildcard is a literal character, not "anything".
    wildcard = await stack.http.get("/v1/admin/users", params={"q": "%"}, headers=stack.admin_auth)
    assert wildcard.json()["items"] == []
    bad = await stack.http.get(
        "/v1/admin/users", params={"cursor": "nonsense"}, headers=stack.admin_auth
    )
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_CURSOR"
    shown = await stack.http.get(f"/v1/admin/users/{made[1].user_id}", headers=stack.admin_auth)
    assert shown.json()["email"] == made[1].email and shown.json()["disabled"] is False
    missing = await stack.http.get(f"/v1/admin/users/{uuid.uuid4()}", headers=stack.admin_auth)
    assert missing.status_code == 404


async def _tokens(http: httpx.AsyncClient, user: User) -> dict[str, Any]:
    answer = await http.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_disabling_revokes_refresh_tokens_and_refuses_logins_until_enabled(
    stack: AdminStack,
) -> None:
    user = await sign_up(stack.http, "Disabled Dora")
    tokens = await _tokens(stack.http, user)
    disabled = await stack.http.patch(
        f"/v1/admin/users/{user.user_id}",
        json={"disabled": True},
        headers=stack.admin_auth | {"X-Request-ID": "req-disable-dora"},
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True and disabled.json()["disabled_at"]

    refresh = await stack.http.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401 and refresh.json()["code"] == "INVALID_REFRESH_TOKEN"
    refused = await stack.http.post(
        "/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "ACCOUNT_DISABLED"

    again = await stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json={"disabled": True}, headers=stack.admin_auth
    )
    assert again.status_code == 200  # no change, so no second entry
    entries = await stack.audit(target=user.user_id)
    assert [e["action"] for e in entries] == ["user.disabled"]
    entry = entries[0]
    assert entry["before"] == {"disabled": False} and entry["after"] == {"disabled": True}
    assert entry["request_id"] == "req-disable-dora"
    assert entry["service"] == "identity" and entry["actor_role"] == "admin"

    enabled = await stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json={"disabled": False}, headers=stack.admin_auth
    )
    assert enabled.json()["disabled"] is False
    await _tokens(stack.http, user)
    actions = [e["action"] for e in await stack.audit(target=user.user_id)]
    assert actions == ["user.enabled", "user.disabled"]


async def test_role_change_resend_verification_and_self_protection(stack: AdminStack) -> None:
    user = await sign_up(stack.http, "Promoted Pat")
    promoted = await stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json={"role": "admin"}, headers=stack.admin_auth
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    new_admin = await login(stack.http, user.email, PASSWORD)
    listed = await stack.http.get(
        "/v1/admin/users", headers={"Authorization": f"Bearer {new_admin}"}
    )
    assert listed.status_code == 200
    demoted = await stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json={"role": "user"}, headers=stack.admin_auth
    )
    assert demoted.json()["role"] == "user"
    # The old admin token still says admin; identity checks the account's role now.
    stale = await stack.http.get(
        "/v1/admin/users", headers={"Authorization": f"Bearer {new_admin}"}
    )
    assert stale.status_code == 403

    resent = await stack.http.post(
        f"/v1/admin/users/{user.user_id}/resend-verification", headers=stack.admin_auth
    )
    assert resent.status_code == 202, resent.text
    entries = await stack.audit(target=user.user_id)
    assert [(e["action"], e["before"], e["after"]) for e in entries] == [
        ("user.verification_resent", None, None),
        ("user.role_changed", {"role": "admin"}, {"role": "user"}),
        ("user.role_changed", {"role": "user"}, {"role": "admin"}),
    ]

    me = (await stack.http.get("/v1/users/me", headers=stack.admin_auth)).json()
    for change in ({"disabled": True}, {"role": "user"}):
        refused = await stack.http.patch(
            f"/v1/admin/users/{me['id']}", json=change, headers=stack.admin_auth
        )
        assert refused.status_code == 409 and refused.json()["code"] == "SELF_CHANGE_REFUSED"
    unknown = await stack.http.patch(
        f"/v1/admin/users/{user.user_id}", json={"role": "root"}, headers=stack.admin_auth
    )
    assert unknown.status_code == 422


async def test_lrs_client_changes_are_audited_without_the_secret(stack: AdminStack) -> None:
    made = await stack.http.post(
        "/v1/admin/lrs-clients",
        json={"name": "Moodle", "scopes": ["statements/write"]},
        headers=stack.admin_auth,
    )
    assert made.status_code == 201
    client = made.json()
    revoked = await stack.http.delete(
        f"/v1/admin/lrs-clients/{client['id']}", headers=stack.admin_auth
    )
    assert revoked.status_code == 204
    entries = await stack.audit(target_type="lrs_client", target=client["id"])
    assert [e["action"] for e in entries] == ["lrs_client.revoked", "lrs_client.created"]
    assert entries[1]["after"]["name"] == "Moodle"
    assert client["secret"] not in json.dumps(entries)


async def test_audit_filters_pages_exports_and_cannot_be_changed(stack: AdminStack) -> None:
    users = [await sign_up(stack.http, f"Audited {n}") for n in range(3)]
    for user in users:
        answer = await stack.http.patch(
            f"/v1/admin/users/{user.user_id}", json={"disabled": True}, headers=stack.admin_auth
        )
        assert answer.status_code == 200
    targets = {u.user_id for u in users}
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"action": "user.*", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await stack.http.get("/v1/admin/audit", params=params, headers=stack.admin_auth)
        pages += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    ids = [e["id"] for e in pages]
    assert len(ids) == len(set(ids))
    assert targets <= {e["target_id"] for e in pages if e["action"] == "user.disabled"}
    assert all(e["action"].startswith("user.") for e in pages)

    since = pages[-1]["at"]
    window = await stack.audit(action="user.disabled", since=since)
    assert {e["target_id"] for e in window} >= targets

    exported = await stack.http.get(
        "/v1/admin/audit/export", params={"action": "user.disabled"}, headers=stack.admin_auth
    )
    assert exported.status_code == 200
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert targets <= {e["target_id"] for e in lines}
    as_csv = await stack.http.get(
        "/v1/admin/audit/export",
        params={"action": "user.disabled", "format": "csv"},
        headers=stack.admin_auth,
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert targets <= {r["target_id"] for r in rows}
    assert as_csv.headers["content-type"].startswith("text/csv")

    connection = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        for statement in (
            "UPDATE identity.audit_log SET action = 'nothing'",
            "DELETE FROM identity.audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
    finally:
        await connection.close()


async def test_cli_calls_the_same_admin_routes(stack: AdminStack) -> None:
    user = await sign_up(stack.http, f"Cli {uuid.uuid4().hex[:6]}")
    status, out, _ = await stack.cli("users", "list", "--q", user.display_name)
    assert status == 0 and [u["id"] for u in json.loads(out)["items"]] == [user.user_id]
    status, out, _ = await stack.cli("users", "show", user.user_id)
    assert json.loads(out)["email"] == user.email
    status, out, _ = await stack.cli("users", "disable", user.user_id)
    assert status == 0 and json.loads(out)["disabled"] is True
    status, out, _ = await stack.cli("users", "enable", user.user_id)
    assert json.loads(out)["disabled"] is False
    status, out, _ = await stack.cli("users", "set-role", user.user_id, "admin")
    assert json.loads(out)["role"] == "admin"
    status, out, _ = await stack.cli("users", "resend-verification", user.user_id)
    assert status == 0 and json.loads(out) == {"status": 202}
    status, out, _ = await stack.cli("audit", "list", "--target", user.user_id)
    actions = [e["action"] for e in json.loads(out)["items"]]
    assert actions == [
        "user.verification_resent",
        "user.role_changed",
        "user.enabled",
        "user.disabled",
    ]
    status, out, _ = await stack.cli("audit", "export", "--target", user.user_id, "--format", "csv")
    assert status == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 4
    status, _, err = await stack.cli("users", "show", str(uuid.uuid4()))
    assert status == 1 and "NOT_FOUND" in err

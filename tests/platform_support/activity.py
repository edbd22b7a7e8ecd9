"""Activity competitions through the public API: a learning tool, a competition, joins, statements.

The activity, rewards and operations stacks share these; each keeps its own rules
and names for them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from podium_runtime.testing import eventually

from platform_support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    XAPI_VERSION,
    LrsClient,
    User,
    login,
    lrs_client,
    trust_lrs_clients,
)

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


async def learning_tool(
    http: httpx.AsyncClient, name: str, scopes: list[str]
) -> tuple[str, LrsClient]:
    """Sign in as the admin and make a learning tool's LRS client; return the admin's token
    and the client."""
    token = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
    return token, await lrs_client(http, token, name, scopes)


async def create_activity_competition(
    http: httpx.AsyncClient,
    owner: User,
    lrs_client_id: str,
    *,
    title: str = "Sprint",
    started: timedelta = timedelta(days=10),
    **fields: Any,
) -> dict[str, Any]:
    """Create an active activity competition that started `started` ago and takes late joins;
    its statements count from the LRS client `lrs_client_id` (ADR 0054). `fields` (its
    `rules` among them) are sent as they are."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "kind": "activity",
        "title": f"{title} {uuid.uuid4().hex[:6]}",
        "status": "active",
        "late_join": True,
        "starts_at": (now - started).isoformat(),
        "ends_at": (now + timedelta(days=20)).isoformat(),
        **fields,
    }
    made = await http.post("/v1/competitions", json=body, headers=owner.auth)
    assert made.status_code == 201, made.text
    await trust_lrs_clients(http, owner.auth, made.json()["id"], lrs_client_id)
    return made.json()  # type: ignore[no-any-return]


async def join_accepted(http: httpx.AsyncClient, competition_id: str, user: User) -> None:
    """Ask to join (202) and await the acceptance."""
    asked = await http.post(f"/v1/competitions/{competition_id}/join", headers=user.auth)
    assert asked.status_code == 202, asked.text

    async def accepted() -> bool:
        got = await http.get(f"/v1/competitions/{competition_id}/enrollment", headers=user.auth)
        return got.status_code == 200 and got.json()["status"] == "accepted"

    await eventually(accepted, timeout=60, message="join accepted")


async def post_statements(
    http: httpx.AsyncClient, lrs_auth: dict[str, str], *statements: dict[str, Any]
) -> list[str]:
    """POST statements as the learning tool behind `lrs_auth`; return their ids."""
    sent = await http.post(
        "/xapi/statements", json=list(statements), headers={**lrs_auth, **XAPI_VERSION}
    )
    assert sent.status_code == 200, sent.text
    return sent.json()  # type: ignore[no-any-return]

"""Start the services of an end-to-end stack; register users and LRS clients.

This module owns how each service runs under test (`serve_identity`,
`serve_competitions`, ... `serve_gateway`): the stacks in `competitions_support`,
`submissions_support`, `ops_support` and the activity and rewards suites pick
the services they need from here and add their own helpers.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure, serve

ADMIN_EMAIL = "competitions-admin@example.org"
ADMIN_PASSWORD = "correct horse battery staple 42"  # dev-only test credential
PASSWORD = "correct horse battery 9"  # dev-only test credential
#: The platform's public URL: the `homePage` of its users' xAPI accounts (SPEC §7.3).
PLATFORM = "https://podium.test"
XAPI_VERSION = {"X-Experience-API-Version": "1.0.3"}


@dataclass
class User:
    """A registered, signed-in user of the running stack."""

    user_id: str
    email: str
    display_name: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """Return the bearer header."""
        return {"Authorization": f"Bearer {self.token}"}


def run_id() -> str:
    """Return a short id that keeps one stack's Redis keys apart from another's."""
    return uuid.uuid4().hex[:8]


async def serve_identity(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, tmp: Path, run: str
) -> str:
    """Run identity (fast password hashing, a generated signing key, the admin); return its URL."""
    from podium_identity.app import create_api as identity_api
    from podium_identity.config import Settings as IdentitySettings

    settings = test_infra.settings(
        IdentitySettings,
        jwt_keys_dir=tmp / "keys",
        jwt_generate_missing_key=True,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        redis_key_prefix=f"t{run}:identity:",
    )
    return await stack.enter_async_context(serve(identity_api(settings)))


async def serve_competitions(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, **settings: Any
) -> str:
    """Run competitions with these settings over the test defaults; return its URL."""
    from podium_competitions.app import create_api as competitions_api
    from podium_competitions.config import Settings as CompetitionsSettings

    app = competitions_api(test_infra.settings(CompetitionsSettings, **settings))
    return await stack.enter_async_context(serve(app))


async def serve_scoring(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, **settings: Any
) -> str:
    """Run scoring with these settings (its blob store, at least); return its URL."""
    from podium_scoring.app import create_api as scoring_api
    from podium_scoring.config import Settings as ScoringSettings

    app = scoring_api(test_infra.settings(ScoringSettings, **settings))
    return await stack.enter_async_context(serve(app))


async def serve_ingest(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, **settings: Any
) -> str:
    """Run ingest with these settings (`platform_url=PLATFORM` to know the platform's users by
    their xAPI accounts); return its URL."""
    from podium_ingest.app import create_api as ingest_api
    from podium_ingest.config import Settings as IngestSettings

    app = ingest_api(test_infra.settings(IngestSettings, **settings))
    return await stack.enter_async_context(serve(app))


async def serve_notifier(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, tmp: Path
) -> tuple[str, Path]:
    """Run the notifier with its development SMTP sink, as under `make dev`, and no scheduler;
    return its URL and the folder the sink writes mails to."""
    from podium_notifier.app import build_app, create_service
    from podium_notifier.config import Settings as NotifierSettings

    mail_dir = tmp / "mails"
    service = create_service(
        test_infra.settings(
            NotifierSettings,
            dev_smtp_sink=True,
            dev_mail_dir=mail_dir,
            smtp_port=free_port(),
            public_base_url=PLATFORM,
            email_poll_seconds=0.2,
            scheduler_enabled=False,
        )
    )
    return await stack.enter_async_context(serve(build_app(service))), mail_dir


async def serve_rewards(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, **settings: Any
) -> str:
    """Run rewards without its drawing scheduler (tests run drawings); return its URL."""
    from podium_rewards.app import create_api as rewards_api
    from podium_rewards.config import Settings as RewardsSettings

    app = rewards_api(test_infra.settings(RewardsSettings, scheduler_enabled=False, **settings))
    return await stack.enter_async_context(serve(app))


async def serve_gateway(
    stack: contextlib.AsyncExitStack, test_infra: TestInfrastructure, run: str, **overrides: Any
) -> tuple[str, httpx.AsyncClient]:
    """Run the gateway without rate limits in the way; return its URL and a client on it.

    `overrides` are gateway settings: the internal URLs of the services it fronts.
    """
    from podium_gateway.app import create_api as gateway_api
    from podium_gateway.config import Settings as GatewaySettings

    settings = test_infra.settings(
        GatewaySettings,
        **{
            "redis_key_prefix": f"t{run}:gateway:",
            "rate_limit_ip": 1_000_000,
            "rate_limit_user": 1_000_000,
            "rate_limit_login_ip": 1_000_000,
            # Every service of a suite shares one event loop on a busy machine: an
            # internal answer may take longer than production's 10 s, but still comes
            # before the suite's own client (30 s) gives up.
            "internal_timeout_seconds": 25.0,
            **overrides,
        },
    )
    gateway = await stack.enter_async_context(serve(gateway_api(settings)))
    http = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway, timeout=30))
    return gateway, http


async def login(http: httpx.AsyncClient, email: str, password: str) -> str:
    """Log in through the gateway; return the access token."""
    answer = await http.post("/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def sign_up(http: httpx.AsyncClient, display_name: str, timezone: str | None = None) -> User:
    """Register and log in a new user through the gateway (`timezone`: IANA, else the default)."""
    email = f"{uuid.uuid4().hex[:12]}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": display_name}
    if timezone is not None:
        body["timezone"] = timezone
    made = await http.post("/v1/auth/register", json=body)
    assert made.status_code == 201, made.text
    return User(made.json()["id"], email, display_name, await login(http, email, PASSWORD))


@dataclass(frozen=True)
class LrsClient:
    """An LRS client made by the admin: its id and Basic `Authorization` header."""

    client_id: str
    auth: dict[str, str]


async def lrs_client(
    http: httpx.AsyncClient, admin_token: str, name: str, scopes: list[str]
) -> LrsClient:
    """Create an LRS client as the admin; return its id and Basic `Authorization` header."""
    made = await http.post(
        "/v1/admin/lrs-clients",
        json={"name": name, "scopes": scopes},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert made.status_code == 201, made.text
    key_secret = f"{made.json()['key']}:{made.json()['secret']}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(key_secret).decode()}
    return LrsClient(made.json()["id"], auth)


async def lrs_credentials(
    http: httpx.AsyncClient, admin_token: str, name: str, scopes: list[str]
) -> dict[str, str]:
    """Create an LRS client as the admin; return its Basic `Authorization` header."""
    return (await lrs_client(http, admin_token, name, scopes)).auth


async def trust_lrs_clients(
    http: httpx.AsyncClient, owner_auth: dict[str, str], competition_id: str, *client_ids: str
) -> None:
    """Make these the LRS clients whose statements count for the competition (ADR 0054)."""
    trusted = await http.put(
        f"/v1/competitions/{competition_id}/trusted-lrs-clients",
        json={"lrs_client_ids": list(client_ids)},
        headers=owner_auth,
    )
    assert trusted.status_code == 200, trusted.text

"""Factories of the identity service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from podium_runtime.profile_card import ACCOUNT, ProfileCards, attach
from podium_runtime.runtime import ServiceRuntime

from podium_identity import admin_api, api, personal_data, queries
from podium_identity.admin import Administration
from podium_identity.config import Settings
from podium_identity.keys import KeyRing
from podium_identity.models import metadata
from podium_identity.service import AccountError, Accounts, LoginThrottle

log = logging.getLogger(__name__)


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.personal_data.register(*personal_data.RECORDS)
    runtime.queries.register(*queries.CATALOGUE)
    attach(runtime.db, ProfileCards(runtime.redis, ACCOUNT))
    return runtime


def create_accounts(settings: Settings, runtime: ServiceRuntime) -> Accounts:
    """Build the use cases with the configured signing keys."""
    assert runtime.outbox is not None
    return Accounts(
        settings,
        KeyRing.from_settings(settings),
        runtime.outbox,
        LoginThrottle(runtime.redis, settings),
    )


async def bootstrap_admin(settings: Settings, runtime: ServiceRuntime, accounts: Accounts) -> bool:
    """Ensure the first admin from `PODIUM_ADMIN_EMAIL`/`PODIUM_ADMIN_PASSWORD` (SPEC §5.1)."""
    if not settings.admin_email or settings.admin_password is None:
        return False
    try:
        async with runtime.db.session() as session:
            user = await accounts.ensure_admin(
                session, settings.admin_email, settings.admin_password.get_secret_value()
            )
    except AccountError as error:
        log.error("admin bootstrap refused", extra={"code": error.code, "reason": error.detail})
        return False
    log.info("admin ensured", extra={"user_id": str(user.id)})
    return True


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers and outbox relay."""
    runtime = create_runtime(settings)
    accounts = create_accounts(settings, runtime)

    async def retry_admin() -> None:
        # The database was unreachable at start-up: keep trying in the background.
        for attempt in range(30):
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
            with contextlib.suppress(OSError):
                await bootstrap_admin(settings, runtime, accounts)
                return

    @asynccontextmanager
    async def admin_first(app: FastAPI) -> AsyncIterator[None]:
        # The admin exists before the service reports ready (SPEC §5.1).
        try:
            await bootstrap_admin(settings, runtime, accounts)
        except OSError:
            log.warning("admin bootstrap postponed: database unreachable")
            runtime.background.append(retry_admin)
        yield

    app = runtime.create_app(
        title="Podium identity",
        description="Users, passwords, RS256 tokens with JWKS, refresh tokens and LRS clients.",
        routers=[api.router, admin_api.router, admin_api.internal_router],
        extensions=[admin_first],
    )
    app.state.accounts = accounts
    app.state.administration = Administration(accounts)
    app.state.settings = settings
    return app

"""Command line: `python -m podium_identity serve|migrate|create-admin|generate-key`."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path

from podium_runtime.cli import run_service
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.settings import ServiceSettings

from podium_identity.app import create_accounts, create_api, create_runtime
from podium_identity.config import Settings, get_settings
from podium_identity.keys import write_key_file
from podium_identity.models import SCHEMA
from podium_identity.service import AccountError


def create_admin(settings: ServiceSettings, args: list[str]) -> int:
    """`create-admin EMAIL [DISPLAY NAME]`: password from PODIUM_ADMIN_PASSWORD or a prompt."""
    assert isinstance(settings, Settings)
    if not args:
        print("usage: python -m podium_identity create-admin EMAIL [DISPLAY NAME]", file=sys.stderr)
        return 2
    email, name = args[0], " ".join(args[1:]) or "Administrator"
    password = os.environ.get("PODIUM_ADMIN_PASSWORD") or getpass.getpass("Admin password: ")

    async def run() -> int:
        runtime: ServiceRuntime = create_runtime(settings)
        accounts = create_accounts(settings, runtime)
        try:
            async with runtime.db.session() as session:
                user = await accounts.ensure_admin(session, email, password, name)
            # Deliver the user.registered/updated events now rather than waiting for a relay.
            assert runtime.relay is not None
            await runtime.broker.start()
            while await runtime.relay.relay_once():
                pass
        except AccountError as error:
            print(f"refused: {error.code}: {error.detail}", file=sys.stderr)
            return 1
        finally:
            await runtime.stop()
        print(f"admin {user.email} ({user.id})")
        return 0

    return asyncio.run(run())


def generate_key(settings: ServiceSettings, args: list[str]) -> int:
    """`generate-key DIR KID`: write a new RS256 private key `DIR/KID.pem`."""
    if len(args) != 2:
        print("usage: python -m podium_identity generate-key DIR KID", file=sys.stderr)
        return 2
    path = write_key_file(Path(args[0]), args[1])
    print(
        f"wrote {path}; it is published in the JWKS at the next start, and signs once "
        f"PODIUM_IDENTITY_JWT_ACTIVE_KID={args[1]}"
    )
    return 0


def main() -> None:
    """Run the identity service command line."""
    sys.exit(
        run_service(
            get_settings(),
            create_api,
            Path(__file__).resolve().parents[2] / "migrations",
            SCHEMA,
            extra_commands={"create-admin": create_admin, "generate-key": generate_key},
        )
    )


if __name__ == "__main__":
    main()

"""Command-line and background entry points of erasure and retention (docs/xapi.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from podium_contracts.actors import actor_key
from podium_runtime.db import Database

from podium_ingest.config import Settings
from podium_ingest.privacy import service

log = logging.getLogger(__name__)


def _agent_key(text: str) -> str:
    agent = json.loads(text)
    if not isinstance(agent, dict) or not any(
        k in agent for k in ("mbox", "mbox_sha1sum", "openid", "account")
    ):
        raise ValueError("the agent must be a JSON Agent with an inverse functional identifier")
    key: str = actor_key(agent)
    return key


async def _erase(settings: Settings, agent_key: str) -> service.Erasure:
    database = Database(settings.database_url, pool_size=1)
    try:
        async with database.session() as session:
            return await service.erase_learner(session, agent_key)
    finally:
        await database.engine.dispose()


def erase_command(settings: Settings, args: list[str]) -> int:
    """`erase '<agent JSON>'`: delete one learner's statements and documents."""
    if len(args) != 1:
        print("usage: podium-ingest erase '<agent JSON>'", file=sys.stderr)
        return 2
    try:
        key = _agent_key(args[0])
    except ValueError as exc:
        print(f"erase: {exc}", file=sys.stderr)
        return 2
    erased = asyncio.run(_erase(settings, key))
    print(json.dumps({"statements": erased.statements, "documents": erased.documents}))
    return 0


async def purge_expired(settings: Settings, database: Database) -> int:
    """Delete every statement older than the retention, batch by batch; return how many."""
    days = settings.statement_retention_days
    if days is None:
        return 0
    total = 0
    while True:
        async with database.session() as session:
            removed = await service.purge_expired_batch(session, days)
        total += removed
        if removed == 0:
            return total


def purge_command(settings: Settings, args: list[str]) -> int:
    """`purge`: apply the statement retention once (for a cron job)."""
    if settings.statement_retention_days is None:
        print("purge: PODIUM_INGEST_STATEMENT_RETENTION_DAYS is not set", file=sys.stderr)
        return 2

    async def run() -> int:
        database = Database(settings.database_url, pool_size=1)
        try:
            return await purge_expired(settings, database)
        finally:
            await database.engine.dispose()

    print(json.dumps({"purged": asyncio.run(run())}))
    return 0


def retention_task(settings: Settings, database: Database) -> object:
    """Return the background job applying the retention every `retention_interval_seconds`."""

    async def job() -> None:
        while True:
            try:
                purged = await purge_expired(settings, database)
                if purged:
                    log.info("retention purged statements", extra={"purged": purged})
            except Exception:
                log.exception("retention purge failed; retrying at the next interval")
            await asyncio.sleep(settings.retention_interval_seconds)

    return job

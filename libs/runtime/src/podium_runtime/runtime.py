"""ServiceRuntime: wires settings, database, Redis, broker, outbox relay and consumers (STYLE 9).

Every service, the pure consumers included, is served as a FastAPI app whose
lifespan starts and stops the broker, the relay and any background tasks, so
each one answers `/health/*` and `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as redis
from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData

from podium_runtime import service_credentials
from podium_runtime.broker import EventConsumer, EventPublisher, create_broker
from podium_runtime.db import Database
from podium_runtime.gcpolicy import freeze_start_up_heap
from podium_runtime.http import (
    HealthCheck,
    RequestMiddleware,
    add_operations_routes,
    run_checks,
)
from podium_runtime.outbox import Outbox, OutboxRelay, messaging_tables
from podium_runtime.personal_data import PersonalDataCatalogue
from podium_runtime.problems import (
    COMMON_PROBLEMS,
    install_problem_handlers,
    problem_responses,
)
from podium_runtime.queries import QueryCatalogue
from podium_runtime.route_table import add_routes, index_routes
from podium_runtime.routing import EventRouter, include_router
from podium_runtime.service_credentials import ServiceCredentialMiddleware
from podium_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
#: Something a service needs for the app's lifetime (an HTTP client, a bootstrap step):
#: entered in order before the runtime starts, left in reverse after it stopped.
LifespanExtension = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]


async def stop_tasks(
    tasks: Sequence[asyncio.Task[Any]], *, every: float = 1.0, tries: int = 30
) -> None:
    """Cancel `tasks` until each has ended, asking again every `every` seconds.

    A library that swallows a cancellation (redis-py can turn one into its own
    connection error, which a job's retry loop then catches and retries) leaves
    the task running; another `cancel()` lands at its next wait. Tasks still running
    after `tries` requests are logged and left behind rather than hanging shutdown.
    """
    pending = set(tasks)
    for _ in range(tries):
        if not pending:
            return
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=every)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("background task ended with an error", exc_info=task.exception())
    if pending:
        log.error(
            "background tasks ignored cancellation",
            extra={"tasks": sorted(task.get_name() for task in pending)},
        )


class ServiceRuntime:
    """The infrastructure handles one service process uses."""

    def __init__(self, settings: ServiceSettings, metadata: MetaData | None = None) -> None:
        self.settings = settings
        self.metadata = metadata
        # Blocking: past `redis_max_connections` a command waits for a connection, where
        # the default pool fails at once (a burst of joins answered 503).
        pool = redis.BlockingConnectionPool.from_url(
            settings.redis_url,
            decode_responses=False,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_pool_timeout_seconds,
        )
        self.redis: redis.Redis = redis.Redis.from_pool(pool)  # closed with the client
        self.broker = create_broker(settings)
        self.publisher = EventPublisher(self.broker, settings.kafka_topic_prefix)
        self.background: list[BackgroundTask] = []
        #: Awaited when the service stops, after its background tasks ended (a service's
        #: own connections: `ScriptLine.aclose`, for one).
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.database: Database | None = None
        self.outbox: Outbox | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        #: Prebuilt read-only queries the service offers operators (podium_runtime.queries).
        self.queries = QueryCatalogue()
        #: The tables holding personal data, for the export (podium_runtime.personal_data).
        self.personal_data = PersonalDataCatalogue()
        #: What `GET /internal/ops/etl` adds about this service's progress (e.g. last statement).
        self.etl_details: Callable[[Any], Awaitable[dict[str, Any]]] | None = None
        if metadata is not None:
            tables = messaging_tables(metadata)
            # A fixed pool: connections are opened when needed, then kept (ADR 0108).
            self.database = Database(
                settings.database_url, pool_size=settings.db_pool_size, max_overflow=0
            )
            self.outbox = Outbox(
                tables.outbox, settings.kafka_topic_prefix, settings.outbox_max_event_bytes
            )
            self.relay = OutboxRelay(
                self.database,
                tables.outbox,
                self.publisher.send,
                topic_prefix=settings.kafka_topic_prefix,
                batch_size=settings.outbox_batch_size,
                max_idle=settings.outbox_max_idle_seconds,
                gather=settings.outbox_relay_gather_ms / 1000,
            )
            self.outbox.on_commit(self.relay.wake)
            self.consumer = EventConsumer(
                settings.service_name, self.database, tables.inbox, settings
            )
            from podium_runtime import operations

            self.background.append(operations.retention_loop(self))

    def include_events(self, *routers: EventRouter, **dependencies: Any) -> None:
        """Wire the `consumers.py` routers on this service's consumer (group = service name).

        Handlers may ask for `outbox`, `redis`, `database` and `settings` by name;
        anything else they need is passed here as a keyword.
        """
        assert self.consumer is not None, f"{self.settings.service_name} has no consumer"
        provided = {
            "outbox": self.outbox,
            "redis": self.redis,
            "database": self.database,
            "settings": self.settings,
            **dependencies,
        }
        for router in routers:
            include_router(self.consumer, router, self.settings, provided)

    @property
    def db(self) -> Database:
        """Return the database; services without a schema have none."""
        assert self.database is not None, f"{self.settings.service_name} has no database"
        return self.database

    def health_checks(self) -> dict[str, HealthCheck]:
        """Return the readiness checks for this service's dependencies."""
        checks: dict[str, HealthCheck] = {"redis": self._ping_redis, "broker": self._ping_broker}
        if self.database is not None:
            checks["database"] = self.database.ping
        return checks

    async def dependencies_down(self) -> bool:
        """Return True when the database or Redis does not answer a ping in time."""
        checks: dict[str, HealthCheck] = {"redis": self._ping_redis}
        if self.database is not None:
            checks["database"] = self.database.ping
        ok, _ = await run_checks(checks, self.settings.health_timeout_seconds)
        return not ok

    async def _ping_redis(self) -> None:
        await self.redis.ping()

    async def _ping_broker(self) -> None:
        if not await self.broker.ping(timeout=self.settings.health_timeout_seconds):
            raise ConnectionError("broker not reachable")

    async def start(self) -> None:
        """Connect the broker, start consumers, the outbox relay and background tasks."""
        if self.consumer is not None:
            self.consumer.subscribe(self.broker)
        await self.broker.start()
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(), name=getattr(job, "__name__", "job")))
        log.info("service started", extra={"port": self.settings.port})

    async def stop(self) -> None:
        """Stop gracefully: finish the relay batch, stop consuming, close connections."""
        if self.relay is not None:
            self.relay.stop()
        relay = {task for task in self._tasks if task.get_name() == "outbox-relay"}
        # The relay finishes the batch it holds; background jobs are cancelled at once.
        _, late = await asyncio.wait(relay, timeout=10) if relay else (set(), set())
        await stop_tasks([task for task in self._tasks if task not in relay] + list(late))
        self._tasks.clear()
        for close in self.on_stop:
            with contextlib.suppress(Exception):
                await close()
        await self.broker.stop()
        await self.redis.aclose()
        if self.database is not None:
            await self.database.dispose()

    def create_app(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter] = (),
        extensions: Sequence[LifespanExtension] = (),
        internal_api: bool = True,
        problems: Sequence[int] = (),
        request_layer: tuple[type[RequestMiddleware], dict[str, Any]] | None = None,
        **fastapi_kwargs: Any,
    ) -> FastAPI:
        """Build the service's FastAPI app with lifespan, errors, request ids and health.

        `extensions` are the service's own lifespan parts, declared here rather
        than by wrapping the app's lifespan afterwards. An `internal_api` service
        refuses internal calls without a service credential (ADR 0053); only the
        gateway, which signs them, is built without. `problems` are statuses
        every route of `routers` may answer beyond `COMMON_PROBLEMS` (documented
        as RFC 7807 answers; a route's own `responses` describe them better).
        `request_layer` (a subclass of `RequestMiddleware` and its options) takes
        the place of `RequestMiddleware`, outermost of the service's layers: the
        gateway's edge is one layer with it (ADR 0075).
        """

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with contextlib.AsyncExitStack() as stack:
                for extension in extensions:
                    await stack.enter_async_context(extension(app))
                await self.start()
                if self.settings.gc_freeze_at_start:
                    freeze_start_up_heap()
                try:
                    yield
                finally:
                    await self.stop()

        # Spans come from `RequestMiddleware` (ADR 0038); FastAPI's own telemetry would make
        # a second server span, operation spans and metrics on every request (issue #14).
        fastapi_kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False})
        app = FastAPI(
            title=title,
            description=description,
            version="1.0.0",
            lifespan=lifespan,
            **fastapi_kwargs,
        )
        app.state.runtime = self
        install_problem_handlers(app)
        if internal_api:
            app.add_middleware(
                ServiceCredentialMiddleware,
                keys=service_credentials.accepted_keys(self.settings),
                ttl=self.settings.service_credential_seconds,
                # The development mail sink answers only when `make dev` turned it on.
                exempt=("/internal/dev/",),
            )
        layer, options = request_layer or (RequestMiddleware, {})
        # A subclass's own options are its own (`options` are not typed per subclass).
        app.add_middleware(layer, service=self.settings.service_name, **options)  # type: ignore[arg-type]
        scrape_hooks: list[Callable[[], Awaitable[None]]] = []
        if self.consumer is not None:
            scrape_hooks.append(self.consumer.update_lag)
        if self.relay is not None:
            scrape_hooks.append(self.relay.update_backlog)
        # On the app's own router: an included router's routes are matched twice a request.
        add_operations_routes(
            app.router,
            self.health_checks(),
            self.settings.health_timeout_seconds,
            scrape_hooks,
            self.settings.service_name,
        )
        if self.database is not None:
            from podium_runtime import operations

            add_routes(app.router, operations.router)
        for router in routers:
            # Every route documents the problem answers any route can give (SPEC §5); on the
            # app's own router, each is matched once and only where the path leads (ADR 0080).
            add_routes(
                app.router, router, problem_responses(*sorted({*COMMON_PROBLEMS, *problems}))
            )
        index_routes(app.router)
        return app

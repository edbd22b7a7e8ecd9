"""Event routers: a module's handlers declared at import time, wired by the runtime (STYLE 2, 5).

The shape of FastStream's `KafkaRouter`: every `consumers.py` has a module-level
`router = EventRouter()` and module-level handler functions

    @router.handles(SubmissionScored)
    async def on_submission_scored(session, event, *, outbox, mirror) -> None: ...

    @router.handles_batch(JoinRequested)
    async def on_join_requested(session, events, *, outbox) -> None: ...

The first two parameters are the unit of work and the event (or the events of
one poll); keyword-only parameters after them are the handler's dependencies,
given by name when the service includes the router
(`ServiceRuntime.include_events(router, mirror=...)`). The runtime's consumer
then applies every event with inbox deduplication, bounded retries and the
dead-letter topic; no handler is registered any other way.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from podium_contracts.envelope import Event
from podium_contracts.topics import topic_for
from sqlalchemy.ext.asyncio import AsyncSession

from podium_runtime.broker import EventConsumer

F = TypeVar("F", bound=Callable[..., Awaitable[None]])
#: A batch size, or how to read it from the service's settings.
MaxRecords = int | Callable[[Any], int] | None


@dataclass(frozen=True)
class EventRoute:
    """One handler and the event classes it handles, one at a time or a poll at a time."""

    event_classes: tuple[type[Event], ...]
    handler: Callable[..., Awaitable[None]]
    batch: bool = False
    max_records: MaxRecords = None

    @property
    def handler_name(self) -> str:
        """Return `module.function` of the handler."""
        return f"{self.handler.__module__}.{self.handler.__qualname__}"

    def dependencies(self) -> list[str]:
        """Return the names of the keyword-only parameters the service must provide."""
        return [
            p.name
            for p in inspect.signature(self.handler).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]


@dataclass
class EventRouter:
    """The handlers of one `consumers.py`, collected at import time."""

    routes: list[EventRoute] = field(default_factory=list)

    def handles(self, *event_classes: type[Event]) -> Callable[[F], F]:
        """Declare `handler(session, event, *, deps...)` for these event classes."""

        def decorate(handler: F) -> F:
            self.routes.append(EventRoute(event_classes, handler))
            return handler

        return decorate

    def handles_batch(
        self, *event_classes: type[Event], max_records: MaxRecords = None
    ) -> Callable[[F], F]:
        """Declare `handler(session, events, *, deps...)` applying a poll's events at once."""

        def decorate(handler: F) -> F:
            self.routes.append(EventRoute(event_classes, handler, True, max_records))
            return handler

        return decorate


def _bind(route: EventRoute, provided: Mapping[str, Any]) -> Callable[..., Awaitable[None]]:
    """Return the handler with its dependencies given; refuse a missing one at start-up."""
    names = route.dependencies()
    missing = [n for n in names if n not in provided]
    if missing:
        raise TypeError(f"{route.handler_name} needs {', '.join(missing)}; include it with them")
    if not names:
        return route.handler
    kwargs = {n: provided[n] for n in names}
    handler = route.handler

    @functools.wraps(handler)
    async def bound(session: AsyncSession, event_or_events: Any) -> None:
        await handler(session, event_or_events, **kwargs)

    return bound


def include_router(
    consumer: EventConsumer, router: EventRouter, settings: Any, provided: Mapping[str, Any]
) -> None:
    """Register every route of `router` on the service's consumer, dependencies bound."""
    for route in router.routes:
        handler = _bind(route, provided)
        if route.batch:
            max_records = route.max_records
            if callable(max_records):
                max_records = max_records(settings)
            consumer.handles_batch(*route.event_classes, max_records=max_records)(handler)
        else:
            consumer.handles(*route.event_classes)(handler)


@dataclass(frozen=True)
class HandlerRow:
    """One line of the event → handler table (docs/consumers.md)."""

    event: str
    topic: str
    handler: str
    batch: bool


def handler_table(routers: Iterable[EventRouter]) -> list[HandlerRow]:
    """Return which handler applies each event type, in declaration order."""
    rows = []
    for router in routers:
        for route in router.routes:
            for cls in route.event_classes:
                tag = f"{cls.model_fields['type'].default} v{cls.model_fields['version'].default}"
                rows.append(HandlerRow(tag, topic_for(cls).name, route.handler_name, route.batch))
    return rows


def markdown_table(modules: Iterable[str]) -> str:
    """Return the event → handler table of the `consumers` modules named, as Markdown."""
    lines = [
        "| consumer group | event | topic | handler | a poll at a time |",
        "|---|---|---|---|---|",
    ]
    for name in modules:
        group = name.split(".")[0].removeprefix("podium_")
        router = importlib.import_module(name).router
        for row in handler_table([router]):
            batch = "yes" if row.batch else ""
            lines.append(f"| {group} | `{row.event}` | `{row.topic}` | `{row.handler}` | {batch} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(sys.argv[1:]), end="")

"""No route, and no route dependency, of any service runs in a worker thread.

FastAPI calls a dependency declared with `def` through the thread pool: a hop to a
worker thread and back on every request that uses it, with the GIL handed over
twice. For the trivial lookups our dependencies are (the app's settings, a client,
the caller's headers) that hop costs far more than the call, and under load the
request waits for the loop and the worker to take turns. Every dependency is
therefore `async def` (or an async generator, or an object with an async
`__call__`), checked here on each service's real routes. Building the apps does no
I/O, so the URLs below are never dialled.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SERVICES = ["gateway", "identity", "competitions", "scoring", "ingest", "notifier", "rewards"]


def _app(name: str) -> FastAPI:
    config = importlib.import_module(f"podium_{name}.config")
    app_module = importlib.import_module(f"podium_{name}.app")
    api: FastAPI = app_module.create_api(config.Settings())
    return api


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def _runs_on_the_loop(call: Callable[..., Any]) -> bool:
    if inspect.isclass(call):
        return False  # building an instance is a plain call: FastAPI sends it to a thread
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    dunder = getattr(call, "__call__", None)  # noqa: B004 - instances with an async __call__
    return inspect.iscoroutinefunction(dunder) or inspect.isasyncgenfunction(dunder)


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_and_its_dependencies_run_on_the_event_loop(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://podium@127.0.0.1:9/podium")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    routes = [route for route in _app(name).routes if isinstance(route, APIRoute)]
    assert routes, f"{name} has no routes to check"
    threaded = sorted(
        {
            f"{call.__module__}.{call.__qualname__}"
            for route in routes
            for call in (route.endpoint, *_dependencies(route.dependant))
            if not _runs_on_the_loop(call)
        }
    )
    assert threaded == [], f"calls FastAPI would make in a worker thread: {threaded}"

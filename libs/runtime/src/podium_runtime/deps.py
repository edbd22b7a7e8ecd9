"""FastAPI dependencies every service shares: runtime, unit of work per request, outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from podium_runtime.outbox import Outbox
from podium_runtime.runtime import ServiceRuntime


def runtime_of(request: Request) -> ServiceRuntime:
    """Return the service runtime the app was built with."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit on success, roll back on error (STYLE 3)."""
    async with runtime_of(request).db.session() as session:
        yield session


async def outbox_of(request: Request) -> Outbox:
    """Return the service's outbox."""
    outbox = runtime_of(request).outbox
    assert outbox is not None, "this service has no database"
    return outbox


async def _runtime(request: Request) -> ServiceRuntime:
    """`runtime_of` as a dependency (`async def`: FastAPI runs a `def` one in a thread)."""
    return runtime_of(request)


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
# "function" scope: the transaction commits before the response leaves, so a client
# that reads right after a 201 sees what it created.
SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]
OutboxDep = Annotated[Outbox, Depends(outbox_of)]

"""Who is calling the internal API, as the gateway vouches for it (SPEC §6).

The gateway authenticates the caller and passes who it is in `X-Podium-User-Id`
and `X-Podium-User-Role`; every router of the service reads it here, and the
query parameters several routers take are typed once here too.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Query
from podium_runtime.problems import Problem

from podium_competitions.views import Caller


async def optional_caller(
    user_id: Annotated[uuid.UUID | None, Header(alias="X-Podium-User-Id")] = None,
    role: Annotated[str, Header(alias="X-Podium-User-Role")] = "user",
) -> Caller | None:
    """Return the caller the gateway vouches for, or None for an anonymous visitor."""
    return Caller(user_id, role) if user_id is not None else None


async def required_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    """Return the caller; anonymous requests are 401."""
    if caller is None:
        raise Problem(401, "UNAUTHORIZED", "this operation needs a signed-in user")
    return caller


CallerDep = Annotated[Caller, Depends(required_caller)]
MaybeCallerDep = Annotated[Caller | None, Depends(optional_caller)]

#: A competition's or a team's invite code, as a join or a team request names it.
InviteCodeQuery = Annotated[str | None, Query(min_length=1, max_length=64)]
#: The opaque cursor of a page the service returned.
CursorQuery = Annotated[str | None, Query(max_length=500)]

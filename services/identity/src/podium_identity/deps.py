"""Request dependencies of identity's routers: the use cases and the verified caller."""

from __future__ import annotations

import uuid
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from podium_runtime.problems import Problem

from podium_identity.service import Accounts

_bearer = HTTPBearer(auto_error=False)


async def get_accounts(request: Request) -> Accounts:
    """Return the app's use cases."""
    return request.app.state.accounts  # type: ignore[no-any-return]


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


async def current_user_id(
    accounts: AccountsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    """Verify the bearer access token with identity's own keys; return its subject."""
    if credentials is None:
        raise Problem(401, "UNAUTHENTICATED", "A bearer token is required.")
    try:
        claims = accounts.keyring.verify(credentials.credentials)
        return uuid.UUID(str(claims["sub"]))
    except jwt.ExpiredSignatureError as exc:
        raise Problem(401, "TOKEN_EXPIRED", "The access token has expired.") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise Problem(401, "INVALID_TOKEN", "The access token is invalid.") from exc


UserIdDep = Annotated[uuid.UUID, Depends(current_user_id)]

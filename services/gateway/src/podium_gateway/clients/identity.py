"""The identity client: identity's API on the caller's behalf (SPEC §5.1, §6).

Account routes are relayed synchronously; the caller's `Authorization` header
goes along, and identity's answer (problems included) is passed through.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from podium_gateway.clients import HttpDep, SettingsDep, call, relay
from podium_gateway.config import Settings


def sent_fields(model: BaseModel) -> dict[str, Any]:
    """Return the fields the caller set, as JSON values (unset ones are not sent)."""
    return model.model_dump(mode="json", exclude_unset=True)


class IdentityProxy:
    """Identity's public API on the caller's behalf (SPEC §6): the caller's credentials go along."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, authorization: str | None) -> None:
        self.http = http
        self.base_url = base_url
        self.authorization = authorization

    async def call(
        self,
        method: str,
        path: str,
        body: BaseModel | dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request to identity and return its answer."""
        headers = {"Authorization": self.authorization} if self.authorization else {}
        json = sent_fields(body) if isinstance(body, BaseModel) else body
        url = f"{self.base_url}{path}"
        return await call(
            self.http, method, url, service="identity", json=json, headers=headers, params=params
        )

    async def relay(
        self,
        method: str,
        path: str,
        body: BaseModel | dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        """Send one request to identity and pass its answer, problems included, to the caller."""
        return relay(await self.call(method, path, body, params))


async def identity_proxy(request: Request, http: HttpDep, settings: SettingsDep) -> IdentityProxy:
    """Return the proxy to identity carrying this request's `Authorization` header."""
    return IdentityProxy(http, settings.identity_url, request.headers.get("authorization"))


IdentityDep = Annotated[IdentityProxy, Depends(identity_proxy)]


def jwks_url(settings: Settings) -> str:
    """Return where identity publishes the public keys of its access tokens."""
    return f"{settings.identity_url}/.well-known/jwks.json"


async def verify_lrs_client(
    http: httpx.AsyncClient, settings: Settings, key: str, secret: str
) -> httpx.Response:
    """Ask identity whether Basic credentials belong to a live LRS client (200, 401 or 404)."""
    return await call(
        http,
        "POST",
        f"{settings.identity_url}/internal/lrs-clients/verify",
        service="identity",
        json={"key": key, "secret": secret},
    )


async def user_access(
    http: httpx.AsyncClient, settings: Settings, user_id: uuid.UUID
) -> httpx.Response:
    """Ask identity for a user's current role and disabled state (200 or 404; ADR 0052)."""
    return await call(
        http, "GET", f"{settings.identity_url}/internal/users/{user_id}/access", service="identity"
    )

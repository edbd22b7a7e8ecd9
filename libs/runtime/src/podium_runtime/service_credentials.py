"""Signed internal service credentials: who may state a caller to an internal API (ADR 0053).

The gateway authenticates people and tells internal services who is calling
in `X-Podium-User-*` headers. Those headers are only as trustworthy as the
network path, so every internal request also carries
`X-Podium-Service-Credential`: an HMAC-SHA256 over the method, the path and
query, every `X-Podium-User-*` header and an expiry about 30 seconds ahead,
keyed by the stack's shared secret (`PODIUM_SERVICE_CREDENTIAL_KEY`).

- `ServiceCredentialAuth` is an `httpx.Auth` that signs every request of the
  client it is attached to (the gateway's one shared internal client).
- `ServiceCredentialMiddleware` (installed by `ServiceRuntime.create_app`)
  refuses, with a 401 problem, any `/internal/...` request and any request
  carrying caller headers whose credential is missing (`SERVICE_CREDENTIAL_REQUIRED`)
  or does not match, is expired or was signed with another key
  (`SERVICE_CREDENTIAL_INVALID`).

A credential proves the request was built by a holder of the key within the
last `ttl` seconds; it is not single-use (a replay of the same method, path
and caller headers within that window is accepted), which is why it is short.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Generator, Iterable, Sequence

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from podium_runtime.problems import Problem, problem_response
from podium_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

#: The request header that carries the credential.
HEADER = "X-Podium-Service-Credential"
#: Headers by which the gateway states the caller; all of them are signed.
CALLER_PREFIX = "x-podium-user-"
#: Paths that are internal APIs: refused without a credential, caller headers or not.
INTERNAL_PREFIX = "/internal"
VERSION = "v1"
#: Seconds a credential lives by default.
DEFAULT_TTL_SECONDS = 30.0
#: Clock difference between pods tolerated on the expiry.
CLOCK_SKEW_SECONDS = 5.0

#: The key used when none is configured: services in one process (tests) trust each
#: other; separate processes without `PODIUM_SERVICE_CREDENTIAL_KEY` refuse each other,
#: which fails closed.
_PROCESS_KEY = secrets.token_bytes(32)


class CredentialError(Exception):
    """A credential that does not authorise the request; `code` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def signing_key(settings: ServiceSettings) -> bytes:
    """Return the key this service signs internal calls with."""
    if settings.service_credential_key is None:
        return _PROCESS_KEY
    return settings.service_credential_key.get_secret_value().encode()


def accepted_keys(settings: ServiceSettings) -> list[bytes]:
    """Return the keys this service accepts: the current one, then the previous one."""
    keys = [signing_key(settings)]
    if settings.service_credential_previous_key is not None:
        keys.append(settings.service_credential_previous_key.get_secret_value().encode())
    return keys


def auth_for(settings: ServiceSettings) -> ServiceCredentialAuth:
    """Return the `httpx` auth that signs internal calls with this stack's key."""
    return ServiceCredentialAuth(signing_key(settings), settings.service_credential_seconds)


def caller_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the `X-Podium-User-*` headers, lower-cased and sorted, as they are signed."""
    return sorted(
        (name.lower(), value) for name, value in headers if name.lower().startswith(CALLER_PREFIX)
    )


def _mac(key: bytes, method: str, target: str, caller: list[tuple[str, str]], expires: int) -> str:
    lines = [VERSION, method.upper(), target, str(expires)]
    lines += [f"{name}:{value}" for name, value in caller]
    digest = hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    key: bytes,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    *,
    ttl: float = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """Return a credential for one request: `target` is its path with `?query` when present."""
    expires = int((time.time() if now is None else now) + ttl)
    caller = caller_headers(headers)
    return f"{VERSION}.{expires}.{_mac(key, method, target, caller, expires)}"


def verify(
    keys: Sequence[bytes],
    credential: str | None,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    *,
    ttl: float = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> None:
    """Check a request's credential against any of `keys`; raise `CredentialError` otherwise."""
    if not credential:
        raise CredentialError(
            "SERVICE_CREDENTIAL_REQUIRED",
            "Internal calls need a service credential signed by the gateway.",
        )
    version, _, rest = credential.partition(".")
    expires_text, _, mac = rest.partition(".")
    if version != VERSION or not expires_text.isascii() or not expires_text.isdigit() or not mac:
        raise CredentialError("SERVICE_CREDENTIAL_INVALID", "The service credential is malformed.")
    expires = int(expires_text[:20])
    moment = time.time() if now is None else now
    if expires < moment - CLOCK_SKEW_SECONDS or expires > moment + ttl + CLOCK_SKEW_SECONDS:
        raise CredentialError("SERVICE_CREDENTIAL_INVALID", "The service credential has expired.")
    caller = caller_headers(headers)
    for key in keys:
        if hmac.compare_digest(_mac(key, method, target, caller, expires), mac):
            return
    raise CredentialError(
        "SERVICE_CREDENTIAL_INVALID", "The service credential does not match this request."
    )


def request_target(path: bytes | str, query: bytes | str = b"") -> str:
    """Return what is signed of a request's URL: the raw path, then `?query` when there is one."""
    raw = path.decode("latin-1") if isinstance(path, bytes) else path
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    return f"{raw}?{text}" if text else raw


class ServiceCredentialAuth(httpx.Auth):
    """Sign every request of an `httpx` client with a fresh service credential."""

    def __init__(self, key: bytes, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self.key = key
        self.ttl = ttl

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the credential header to the request, computed over what is sent."""
        target = request_target(request.url.raw_path)
        request.headers[HEADER] = sign(
            self.key, request.method, target, request.headers.multi_items(), ttl=self.ttl
        )
        yield request


class ServiceCredentialMiddleware:
    """Refuse internal requests and stated callers without a valid service credential."""

    def __init__(
        self,
        app: ASGIApp,
        keys: Sequence[bytes],
        ttl: float = DEFAULT_TTL_SECONDS,
        exempt: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.keys = tuple(keys)
        self.ttl = ttl
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one request, then pass it on or answer 401."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers", [])
        ]
        internal = path.startswith(INTERNAL_PREFIX) and not path.startswith(self.exempt)
        credential = next((v for n, v in headers if n.lower() == HEADER.lower()), None)
        if not internal and credential is None and not caller_headers(headers):
            await self.app(scope, receive, send)
            return
        target = request_target(
            scope.get("raw_path") or path.encode(), scope.get("query_string", b"")
        )
        try:
            verify(self.keys, credential, scope["method"], target, headers, ttl=self.ttl)
        except CredentialError as refused:
            log.warning(
                "internal request refused",
                extra={"code": refused.code, "path": path, "method": scope["method"]},
            )
            answer = problem_response(Problem(401, refused.code, refused.detail))
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

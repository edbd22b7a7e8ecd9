"""HTTP Basic authentication of learning tools with LRS client credentials (SPEC §5.4, §8).

Identity owns the credentials; the gateway asks it to verify a key/secret pair
and caches the verdict in Redis for `lrs_cache_seconds` under a hash of the
pair (never the secret itself), so a revoked client is refused within seconds
while a busy tool does not cost an internal call per statement. Each process
also keeps the verdicts it read until their Redis copy expires (no Redis round
trip per request either).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBase
from fastapi.security.base import SecurityBase
from podium_runtime.problems import Problem

from podium_gateway.clients import client_ip
from podium_gateway.clients.identity import verify_lrs_client
from podium_gateway.config import Settings
from podium_gateway.limits import MergedHits, RateLimitResult, hit, rate_limit_problem

#: xAPI Communication 4.2 scopes. `all` grants everything; `all/read` every read.
SCOPES = frozenset(
    {
        "all",
        "all/read",
        "statements/write",
        "statements/read",
        "statements/read/mine",
        "state",
        "define",
        "profile",
    }
)
_REFUSED = b"-"


@dataclass(frozen=True)
class LrsClient:
    """A learning tool authenticated with LRS client credentials."""

    client_id: uuid.UUID
    name: str
    scopes: frozenset[str]

    def reads_all_statements(self) -> bool:
        """True when the client may read every statement, not only its own (Comm. 4.2)."""
        return bool({"all", "all/read", "statements/read"} & self.scopes)


class LrsBasicScheme(SecurityBase):
    """Declares HTTP Basic LRS credentials in OpenAPI; the check is `authenticate_lrs_client`.

    FastAPI's `HTTPBasic` answers malformed headers itself and only decodes ASCII,
    so it would bypass this module's problems, counting and UTF-8 secrets.
    """

    def __init__(self) -> None:
        self.model = HTTPBase(
            scheme="basic",
            description="LRS client key and secret from POST /v1/admin/lrs-clients",
        )
        self.scheme_name = "LrsBasic"

    async def __call__(self, request: Request) -> str | None:
        """Return the raw `Authorization` header (checked by the route's dependency)."""
        return request.headers.get("authorization")


lrs_basic = LrsBasicScheme()


def credential_fingerprint(key: str, secret: str) -> str:
    """Return the hash naming one key/secret pair in Redis keys (never the secret itself)."""
    return hashlib.sha256(f"{key}:{secret}".encode()).hexdigest()


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "INVALID_CREDENTIALS",
        detail,
        headers={"WWW-Authenticate": 'Basic realm="Podium LRS", charset="UTF-8"'},
    )


def parse_basic(header: str | None) -> tuple[str, str]:
    """Return (key, secret) from an `Authorization: Basic` header; 401 when absent or malformed."""
    if not header:
        raise _unauthorized("This route needs HTTP Basic LRS client credentials.")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise _unauthorized("This route needs HTTP Basic LRS client credentials.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _unauthorized("The Basic credentials are malformed.") from exc
    key, sep, secret = decoded.partition(":")
    if not sep or not key or not secret:
        raise _unauthorized("The Basic credentials are malformed.")
    return key, secret


def _failures_key(request: Request, settings: Settings, key: str) -> str:
    """Return the Redis key counting refused credentials for this address and LRS key."""
    ip = client_ip(request, settings)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{settings.redis_key_prefix}rl:lrs-auth:{ip}:{digest}"


async def _refuse_when_throttled(redis_client: Any, failures_key: str, settings: Settings) -> None:
    """Answer 429 while this address has used up its refused attempts for this key."""
    used = await redis_client.get(failures_key)
    if used is not None and int(used) >= settings.rate_limit_lrs_auth_failures:
        ttl_ms = await redis_client.pttl(failures_key)
        raise rate_limit_problem(
            RateLimitResult(
                allowed=False,
                limit=settings.rate_limit_lrs_auth_failures,
                used=int(used),
                remaining=0,
                reset_after=max(1, math.ceil(max(ttl_ms, 0) / 1000)),
            ),
            "Too many refused LRS credentials from this address; retry after Retry-After seconds.",
        )


async def _count_refusal(redis_client: Any, failures_key: str, settings: Settings) -> None:
    await hit(
        redis_client,
        failures_key,
        settings.rate_limit_lrs_auth_failures,
        settings.rate_limit_lrs_auth_failures_window_seconds,
    )


@dataclass(frozen=True)
class Verdict:
    """What identity answered for one key/secret pair: the client, or None when refused."""

    client: LrsClient | None

    @classmethod
    def read(cls, stored: bytes) -> Verdict:
        """Read a verdict as Redis keeps it: identity's JSON answer, or the refusal mark."""
        if stored == _REFUSED:
            return cls(None)
        data = json.loads(stored)
        return cls(
            LrsClient(
                client_id=uuid.UUID(data["client_id"]),
                name=data["name"],
                scopes=frozenset(data["scopes"]),
            )
        )


class VerdictCache:
    """The Redis verdicts this process read, each kept until its Redis copy expires.

    A busy tool sends many requests within `lrs_cache_seconds`; reading the verdict
    once per expiry instead of once per request saves a Redis round trip on each,
    and never keeps a verdict longer than Redis does. Verdicts are kept read, so a
    request does not parse identity's answer again. Bounded: the oldest go first.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Verdict, float]] = {}

    def get(self, fingerprint: str) -> Verdict | None:
        """Return the verdict for `fingerprint` while it is fresh, else None."""
        entry = self._entries.get(fingerprint)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop(fingerprint, None)
            return None
        return entry[0]

    def put(self, fingerprint: str, verdict: Verdict, seconds: float) -> None:
        """Keep `verdict` for `seconds` from now."""
        self._entries.pop(fingerprint, None)
        while len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[fingerprint] = (verdict, time.monotonic() + seconds)


def _verdicts(request: Request) -> VerdictCache:
    state = request.app.state
    cache: VerdictCache | None = getattr(state, "lrs_verdicts", None)
    if cache is None:
        cache = state.lrs_verdicts = VerdictCache()
    return cache


def _hits(request: Request) -> MergedHits:
    state = request.app.state
    hits: MergedHits | None = getattr(state, "lrs_rate_hits", None)
    if hits is None:
        hits = state.lrs_rate_hits = MergedHits(state.scripts)
    return hits


async def authenticate_lrs_client(request: Request) -> LrsClient:
    """Verify the request's Basic credentials with identity (through the Redis cache).

    Refused and malformed credentials are counted per client address and LRS key
    (SPEC §8); past `rate_limit_lrs_auth_failures` they answer 429 without a check.
    Known-good credentials (cached) are never throttled by other callers' failures.
    """
    settings: Settings = request.app.state.settings
    redis_client = request.app.state.runtime.redis
    header = request.headers.get("authorization")
    try:
        key, secret = parse_basic(header)
    except Problem:
        if header:
            failures_key = _failures_key(request, settings, "")
            await _refuse_when_throttled(redis_client, failures_key, settings)
            await _count_refusal(redis_client, failures_key, settings)
        raise
    fingerprint = credential_fingerprint(key, secret)
    cache_key = f"{settings.redis_key_prefix}lrs:{fingerprint}"
    verdicts = _verdicts(request)
    verdict = verdicts.get(fingerprint)
    if verdict is None:
        # One round trip: the verdict and how long Redis keeps it, so this process keeps
        # it no longer (a revoked client is refused within `lrs_cache_seconds` everywhere).
        async with redis_client.pipeline(transaction=False) as pipe:
            stored, ttl_ms = await pipe.get(cache_key).pttl(cache_key).execute()
        if stored is not None:
            verdict = Verdict.read(stored)
            if ttl_ms > 0:
                verdicts.put(fingerprint, verdict, ttl_ms / 1000)
    # Only credentials not known to be good are counted and throttled.
    if verdict is None or verdict.client is None:
        await _refuse_when_throttled(redis_client, _failures_key(request, settings, key), settings)
    if verdict is None:
        response = await verify_lrs_client(request.app.state.http, settings, key, secret)
        if response.status_code == 200:
            stored = response.content
        elif response.status_code in (401, 404):
            stored = _REFUSED
        else:
            raise Problem(503, "SERVICE_UNAVAILABLE", "Credentials cannot be verified now.")
        await redis_client.set(cache_key, stored, px=int(settings.lrs_cache_seconds * 1000))
        verdict = Verdict.read(stored)
        verdicts.put(fingerprint, verdict, settings.lrs_cache_seconds)
    client = verdict.client
    if client is None:
        await _count_refusal(redis_client, _failures_key(request, settings, key), settings)
        raise _unauthorized("Unknown or revoked LRS client credentials.")
    # The credentials verified: routes may remember things about them (xapi/versions.py).
    request.state.lrs_credential = fingerprint
    client_id = str(client.client_id)
    # Counted with the concurrent requests of every client in one round trip (limits.py).
    await _hits(request).enforce(
        f"{settings.redis_key_prefix}rl:lrs:{client_id}",
        settings.rate_limit_lrs_clients.get(client_id, settings.rate_limit_lrs_client),
        settings.rate_limit_lrs_client_window_seconds,
        "This LRS client sent too many requests; retry after Retry-After seconds.",
    )
    return client


def require_lrs_scope(*scopes: str) -> Callable[..., Awaitable[LrsClient]]:
    """Build a dependency admitting LRS clients holding ANY of `scopes` (none: any valid client).

    `all` admits to every route (xAPI Communication 4.2).
    """
    unknown = set(scopes) - SCOPES
    if unknown:
        raise ValueError(f"unknown LRS scopes: {sorted(unknown)}")
    wanted = frozenset(scopes)

    async def dependency(
        request: Request, _documented: Annotated[str | None, Depends(lrs_basic)]
    ) -> LrsClient:
        client = await authenticate_lrs_client(request)
        if wanted and not ((wanted | {"all"}) & client.scopes):
            raise Problem(
                403,
                "INSUFFICIENT_SCOPE",
                f"This LRS client needs one of the scopes: {', '.join(sorted(wanted))}.",
            )
        return client

    return dependency

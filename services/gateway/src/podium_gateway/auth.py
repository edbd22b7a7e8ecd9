"""Bearer authentication: RS256 access tokens verified offline against identity's JWKS (SPEC §8).

Only RS256 is accepted, whatever the token header claims, so `none` and HS/RS
confusion (an HMAC signed with the public key) are refused before any key is
used. Keys are looked up by `kid`; an unknown `kid` triggers at most one JWKS
refetch per `jwks_refetch_min_seconds`, so a rotated-in key is picked up at
once while garbage tokens cannot hammer identity.

The role claim is not trusted for admin decisions: a token claiming `admin`
is confirmed against identity's current state on every request (ADR 0052).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from podium_contracts.redis_keys import access_token_revoked_key, tokens_revoked_before_key
from podium_runtime.problems import Problem
from podium_runtime.script_line import Scripts
from redis.commands.core import AsyncScript

from podium_gateway.clients import call, client_ip
from podium_gateway.clients.identity import user_access
from podium_gateway.config import Settings
from podium_gateway.limits import HIT_FUNCTION, counted, enforce, rate_limit_problem

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
ROLES = frozenset({"user", "admin"})
_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/auth/login")


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated caller, as stated by a verified access token."""

    user_id: uuid.UUID
    email: str
    #: The current role: an `admin` claim is confirmed with identity (ADR 0052).
    role: str
    #: The token's id and issue and expiry instants (revocation, SPEC §5.1).
    jti: str = ""
    issued_at: float = 0.0
    expires_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        """Whether the caller has the `admin` role."""
        return self.role == "admin"


def invalid_token(detail: str = "The access token is invalid.") -> Problem:
    """Return the 401 `INVALID_TOKEN` problem."""
    return Problem(
        401,
        "INVALID_TOKEN",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class JwksCache:
    """Identity's public signing keys, fetched over HTTP and kept in memory by `kid`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        ttl_seconds: float = 300.0,
        refetch_min_seconds: float = 5.0,
    ) -> None:
        self.http = http
        self.url = url
        self.ttl_seconds = ttl_seconds
        self.refetch_min_seconds = refetch_min_seconds
        self.document: dict[str, Any] = {"keys": []}
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Fetch the JWKS now; keep RS256 signing keys only."""
        async with self._lock:
            self._last_attempt = time.monotonic()
            response = await call(self.http, "GET", self.url, service="identity")
            if response.status_code != 200:
                raise Problem(503, "SERVICE_UNAVAILABLE", "Signing keys are not available.")
            document = response.json()
            keys: dict[str, Any] = {}
            for jwk in document.get("keys", []):
                if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
                    continue
                if jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
                    continue
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
            self._keys = keys
            self.document = {"keys": [k for k in document.get("keys", []) if k.get("kid") in keys]}
            self._fetched_at = time.monotonic()
            log.info("jwks refreshed", extra={"kids": sorted(keys)})

    def _stale(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at > self.ttl_seconds

    async def current(self) -> dict[str, Any]:
        """Return the JWKS document, refetched when older than the cache lifetime."""
        if self._stale():
            await self._refresh_tolerant()
        return self.document

    async def _refresh_tolerant(self) -> None:
        # With keys in hand, an identity outage must not lock everybody out.
        try:
            await self.refresh()
        except Problem:
            if not self._keys:
                raise
            log.warning("jwks refresh failed; keeping cached keys")

    async def key_for(self, kid: str) -> Any | None:
        """Return the public key for `kid`, refetching (rate-limited) when it is unknown."""
        if self._stale():
            await self._refresh_tolerant()
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._last_attempt >= self.refetch_min_seconds:
            await self._refresh_tolerant()
            key = self._keys.get(kid)
        return key


#: Tokens verified lately: token -> (key id, the key it was verified with, the caller).
_VERIFIED: OrderedDict[str, tuple[str, Any, CurrentUser]] = OrderedDict()
#: How many verified tokens are kept (least recently used go first).
VERIFIED_TOKENS = 4096


async def verify_access_token(token: str, jwks: JwksCache, leeway: float = 5.0) -> CurrentUser:
    """Verify an access token's header, signature and claims; raise 401 problems otherwise.

    A token verified before is not verified again while it has not expired and
    the key it was verified with is still the one identity publishes for its
    `kid` (a rotated-out or refetched key verifies it afresh). The signature and
    claims of a given token cannot change; revocation and the current role are
    checked on every request by the callers, as before.
    """
    found = _VERIFIED.get(token)
    if found is not None:
        kid, key, user = found
        # PyJWT's rule: expired once `exp <= now - leeway`.
        if time.time() < user.expires_at + leeway and await jwks.key_for(kid) is key:
            _VERIFIED.move_to_end(token)
            return user
        _VERIFIED.pop(token, None)
    user, kid, key = await _verify(token, jwks, leeway)
    _VERIFIED[token] = (kid, key, user)
    if len(_VERIFIED) > VERIFIED_TOKENS:
        _VERIFIED.popitem(last=False)
    return user


async def _verify(token: str, jwks: JwksCache, leeway: float) -> tuple[CurrentUser, str, Any]:
    """Verify a token in full; return the caller, the key id and the key that verified it."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise invalid_token() from exc
    # Decide the algorithm ourselves: the header is attacker-controlled (SPEC §8).
    if header.get("alg") != ALGORITHM:
        raise invalid_token("Only RS256 access tokens are accepted.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise invalid_token("The access token has no key id.")
    key = await jwks.key_for(kid)
    if key is None:
        raise invalid_token("The access token was signed with an unknown key.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=leeway,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Problem(
            401,
            "TOKEN_EXPIRED",
            "The access token has expired; refresh it.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise invalid_token() from exc
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise invalid_token() from exc
    email, role = claims.get("email"), claims.get("role")
    if not isinstance(email, str) or role not in ROLES:
        raise invalid_token()
    user = CurrentUser(
        user_id=user_id,
        email=email,
        role=role,
        jti=str(claims["jti"]),
        issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
    )
    return user, kid, key


async def check_not_revoked(redis_client: Any, user: CurrentUser) -> None:
    """Refuse a token logged out, or issued before its user's password was reset."""
    revoked, before = await redis_client.mget(
        access_token_revoked_key(user.jti), tokens_revoked_before_key(user.user_id)
    )
    if revoked is not None or (before is not None and user.issued_at <= float(before)):
        raise token_revoked()


def token_revoked() -> Problem:
    """Return the 401 `TOKEN_REVOKED` problem."""
    return Problem(
        401,
        "TOKEN_REVOKED",
        "The access token was revoked; sign in again.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def current_access(
    http: httpx.AsyncClient, settings: Settings, user: CurrentUser
) -> CurrentUser:
    """Return the caller with the role they hold now, when their token claims admin (ADR 0052).

    A token states the role of the moment it was issued, up to 15 minutes ago;
    an admin decision must not rest on it. Identity answers the current role
    and disabled state: a demoted admin is an ordinary user from the next
    request on, a disabled one is refused. A `user` claim is taken as it is:
    a promotion counts from the next token, which errs on the side of less power.
    """
    if not user.is_admin:
        return user
    answer = await user_access(http, settings, user.user_id)
    if answer.status_code == 404:
        raise invalid_token("The account of this token no longer exists.")
    if answer.status_code != 200:
        raise Problem(
            503,
            "SERVICE_UNAVAILABLE",
            "The caller's permissions cannot be checked now; try again shortly.",
            headers={"Retry-After": "1"},
        )
    access = answer.json()
    if access.get("disabled") is not False or access.get("role") not in ROLES:
        raise token_revoked()
    return dataclasses.replace(user, role=access["role"])


async def revoke_access_token(redis_client: Any, user: CurrentUser) -> None:
    """Put a token on the deny-list until it expires by itself."""
    ttl = max(int(user.expires_at - time.time()) + 60, 1)
    await redis_client.set(access_token_revoked_key(user.jti), b"1", ex=ttl)


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Gate:
    """The Redis checks of a request not made yet: its rate limit and its token's revocation.

    `optional_user` makes them at once; a route reading the competitions read model
    makes them in the same script as its read (`read_model.snapshot`) and settles
    them before it uses what it read, in the same order and with the same answers.
    """

    limit_key: str
    limit: int
    window_seconds: int
    #: The caller whose token is checked against the deny-lists (None: anonymous).
    user: CurrentUser | None = None

    def keys(self) -> list[str]:
        """Return the keys the checks read and count on."""
        if self.user is None:
            return [self.limit_key]
        return [
            self.limit_key,
            access_token_revoked_key(self.user.jti),
            tokens_revoked_before_key(self.user.user_id),
        ]

    def arguments(self) -> list[Any]:
        """Return the window in ms and the token's issue instant."""
        issued_at = repr(self.user.issued_at) if self.user is not None else "0"
        return [int(self.window_seconds * 1000), issued_at]

    def settle(self, verdict: Any) -> None:
        """Raise what the checks found: 401 `TOKEN_REVOKED` (-1, not counted), else 429."""
        count, ttl_ms = int(verdict[0]), int(verdict[1])
        if count < 0:
            raise token_revoked()
        result = counted(count, ttl_ms, self.limit)
        if not result.allowed:
            raise rate_limit_problem(result)


#: Lua: `gate(limit, window ms, revoked key or false, revoked-before key, issued at)` returns
#: {-1, 0} for a revoked token (not counted), else the rate limit's {count, ttl ms}.
GATE_FUNCTION = (
    HIT_FUNCTION
    + """
local function gate(limit_key, window_ms, revoked_key, before_key, issued_at)
  if revoked_key then
    if redis.call('EXISTS', revoked_key) == 1 then return {-1, 0} end
    local before = redis.call('GET', before_key)
    if before and tonumber(issued_at) <= tonumber(before) then return {-1, 0} end
  end
  return hit(limit_key, window_ms)
end
"""
)

#: The gate alone: KEYS the gate's keys (1 anonymous, 3 with a token); ARGV window ms, issued at.
#: Loaded by the gateway's script line (`app.script_line`).
GATE_SCRIPT = (
    GATE_FUNCTION + "return gate(KEYS[1], ARGV[1], #KEYS == 3 and KEYS[2], KEYS[3], ARGV[2])"
)
_GATE_SCRIPT = AsyncScript(None, GATE_SCRIPT.encode())  # type: ignore[arg-type]


async def settle(scripts: Scripts, gate: Gate) -> None:
    """Make a gate's checks now, in one script: 401 `TOKEN_REVOKED`, else 429 when over the limit.

    The same checks, order and answers as `optional_user`'s, in one round trip
    (`scripts`: the app's, `app.state.scripts`; ADR 0101).
    """
    gate.settle(await scripts.run(_GATE_SCRIPT, gate.keys(), gate.arguments()))


def anonymous_gate(settings: Settings, ip: str) -> Gate:
    """Return the checks of an anonymous request: its IP's rate limit (SPEC §8)."""
    key = f"{settings.redis_key_prefix}rl:ip:{ip}"
    return Gate(key, settings.rate_limit_ip, settings.rate_limit_ip_window_seconds)


#: Scope key of a request's checks made at the edge (`edge_reads`): (gate, verdict), the
#: gate's `user` being the caller its token verified to (None: anonymous).
SETTLED_AT_EDGE = "podium.settled_gate"


async def _caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> tuple[CurrentUser | None, Gate]:
    """Return the caller as their token states it (verified offline) and their checks to make."""
    settings = _settings(request)
    if credentials is None:
        if "authorization" in request.headers:
            raise invalid_token("The Authorization header must be `Bearer <token>`.")
        return None, anonymous_gate(settings, client_ip(request, settings))
    user = await verify_access_token(
        credentials.credentials, request.app.state.jwks, settings.jwt_leeway_seconds
    )
    return user, user_gate(settings, user)


def user_gate(settings: Settings, user: CurrentUser) -> Gate:
    """Return the checks of a signed-in request: its token's deny-lists, its user's limit."""
    key = f"{settings.redis_key_prefix}rl:user:{user.user_id}"
    return Gate(key, settings.rate_limit_user, settings.rate_limit_user_window_seconds, user)


async def optional_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentUser | None:
    """Return the caller when a bearer token is sent (401 if it is bad), else None (anonymous).

    The deny-lists and the rate limit are one script on the gateway's script line
    (`settle`); a token claiming `admin` has identity asked between the two (ADR 0052).
    """
    user, gate = await _caller(request, credentials)
    state = request.app.state
    redis_client = state.runtime.redis
    if user is None or not user.is_admin:
        await settle(state.scripts, gate)
        return user
    await check_not_revoked(redis_client, user)
    user = await current_access(state.http, _settings(request), user)
    await enforce(redis_client, gate.limit_key, gate.limit, gate.window_seconds)
    return user


@dataclass(frozen=True)
class Reader:
    """A caller of a read-model route, with the checks its read makes (None: already made)."""

    user: CurrentUser | None
    gate: Gate | None


async def optional_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Reader:
    """Return the caller like `optional_user`, leaving its Redis checks to the route's read.

    A token claiming `admin` is checked here in full (ADR 0052: identity is asked
    after the deny-lists and before the limit), as `optional_user` does.
    """
    settled = request.scope.get(SETTLED_AT_EDGE)
    if settled is not None:
        # The edge's read path verified the token (if any; never an admin claim) and counted
        # this request already, then let it through (a miss, a private competition, ...):
        # settle its verdict here (401 revoked, 429), never count twice.
        gate, verdict = settled
        gate.settle(verdict)
        return Reader(gate.user, None)
    user, gate = await _caller(request, credentials)
    if user is not None and user.is_admin:
        return Reader(await optional_user(request, credentials), None)
    return Reader(user, gate)


def unauthenticated() -> Problem:
    """Return the 401 `UNAUTHENTICATED` problem of a route that needs a bearer token."""
    return Problem(
        401,
        "UNAUTHENTICATED",
        "This route needs `Authorization: Bearer <access token>`.",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def require_user(
    user: Annotated[CurrentUser | None, Depends(optional_user)],
) -> CurrentUser:
    """Return the authenticated caller; 401 `UNAUTHENTICATED` when no token was sent."""
    if user is None:
        raise unauthenticated()
    return user


@dataclass(frozen=True)
class Commander:
    """The authenticated caller of a command, with the checks still to make (None: made)."""

    user: CurrentUser
    gate: Gate | None


async def require_commander(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Commander:
    """Return the authenticated caller like `require_user`, leaving its Redis checks to the route.

    The route makes them before anything else, in the first script it runs
    (`settle`, or its own, as `podium_gateway.joins.admit` does), with the same
    answers. Without a token the caller's IP is counted and 401 `UNAUTHENTICATED`
    answered; a token claiming `admin` is checked in full here, as `require_user` does.
    """
    reader = await optional_reader(request, credentials)
    if reader.user is None:
        if reader.gate is not None:
            await settle(request.app.state.scripts, reader.gate)
        raise unauthenticated()
    return Commander(reader.user, reader.gate)


async def require_admin(user: Annotated[CurrentUser, Depends(require_user)]) -> CurrentUser:
    """Return the caller if an admin; 403 `FORBIDDEN` otherwise."""
    if not user.is_admin:
        raise Problem(403, "FORBIDDEN", "This route is for administrators.")
    return user


UserDep = Annotated[CurrentUser, Depends(require_user)]
OptionalUserDep = Annotated[CurrentUser | None, Depends(optional_user)]
ReaderDep = Annotated[Reader, Depends(optional_reader)]
CommanderDep = Annotated[Commander, Depends(require_commander)]
AdminDep = Annotated[CurrentUser, Depends(require_admin)]

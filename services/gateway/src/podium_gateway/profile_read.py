"""`GET /v1/users/me` from the caller's profile card: one Redis command (issue #14, ADR 0074).

Identity keeps the account part of each user's card, the notifier the
preferences part, each written around the commits that change it
(`podium_runtime.profile_card`). The gateway reads both parts together with
the caller's checks (`auth.Gate`: token revocation, then the rate limit) in
one script, settles the checks first, and answers the bytes rendered once per
content (`podium_gateway.rendered`): identity's document with the notifier's
matrix as `notification_preferences`, encoded as the route's `JSONResponse`
encodes the document it joins from the two internal answers.

Anything else goes the route's way: a missing part (never written, hidden by
a change in flight, flushed) is answered from the internal APIs as before, and
those write their part again. The card answers only for the user it belongs
to: its key is the token's user, and the stored document's `id` is compared
with the token's subject on every answer.

`edge_answer` serves the same read in front of FastAPI's routing for a
plain signed-in `GET` (ADR 0070's layer, `edge_reads.EdgeReads`); an admin
claim, a bad token, a refused request or a miss are left to the route.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from podium_contracts.redis_keys import profile_card_key
from podium_runtime.problems import Problem
from podium_runtime.script_line import Scripts
from prometheus_client import Counter
from redis.commands.core import AsyncScript
from starlette.types import Scope

from podium_gateway.auth import (
    GATE_FUNCTION,
    SETTLED_AT_EDGE,
    CurrentUser,
    Gate,
    user_gate,
    verify_access_token,
)
from podium_gateway.rendered import Rendered

log = logging.getLogger(__name__)

#: The route's path, as `RequestMiddleware` labels metrics and spans with it.
PATH = "/v1/users/me"
#: The route's own header (the answer is the caller's own data).
CACHE_CONTROL = (b"cache-control", b"private, no-store")

# The caller's checks (0 or 3 gate keys) and both parts of the card, in one script.
# KEYS card[, limit, revoked, revoked-before]; ARGV n, window ms, issued at.
_PROFILE = (
    GATE_FUNCTION
    + """
local verdict = false
if tonumber(ARGV[1]) > 0 then
  verdict = gate(KEYS[2], ARGV[2], KEYS[3], KEYS[4], ARGV[3])
end
return {redis.call('HMGET', KEYS[1], 'account', 'preferences'), verdict}
"""
)
#: The script's text (loaded by the edge's own connection, `script_line`).
PROFILE_SCRIPT = _PROFILE
_PROFILE_SCRIPT = AsyncScript(None, _PROFILE.encode())  # type: ignore[arg-type]

#: Answers rendered from the parts' bytes: (the document's user id, the JSON body).
BODIES: Rendered[tuple[str, bytes]] = Rendered(1024)

PROFILE_READS = Counter(
    "podium_gateway_profile_card_reads_total",
    "GET /v1/users/me requests by how they were answered: card (one Redis command) or owners",
    ["source"],
)
_FROM_CARD = PROFILE_READS.labels("card")
_FROM_OWNERS = PROFILE_READS.labels("owners")


def _command(user: CurrentUser, gate: Gate | None) -> tuple[list[str], list[Any]]:
    keys = [profile_card_key(user.user_id)]
    if gate is None:
        return keys, [0, 0, 0]
    return keys + gate.keys(), [len(gate.keys()), *gate.arguments()]


async def read(scripts: Scripts, user: CurrentUser, gate: Gate | None) -> tuple[bytes | None, Any]:
    """Read the card and make the caller's checks; return the answer's body (None: miss), verdict.

    Nothing may be answered before the verdict is settled (`Gate.settle`). `scripts`:
    the app's (`app.state.scripts`; an error on its line raises).
    """
    keys, args = _command(user, gate)
    parts, verdict = await scripts.run(_PROFILE_SCRIPT, keys, args)
    return body(user, parts[0], parts[1]), verdict


def body(user: CurrentUser, account: bytes | None, preferences: bytes | None) -> bytes | None:
    """Return the answer the two parts make for `user`, or None when one is missing."""
    if account is None or preferences is None:
        return None
    owner, rendered = BODIES.get((account, preferences), lambda: _render(account, preferences))
    return rendered if owner == str(user.user_id) else None


def _render(account: bytes, preferences: bytes) -> tuple[str, bytes]:
    """Join the parts as the route joins the owners' answers, encoded as `JSONResponse` does."""
    document = json.loads(account)
    document["notification_preferences"] = json.loads(preferences)
    return str(document.get("id")), bytes(JSONResponse(document).body)


def counted(from_card: bool) -> None:
    """Count one answer by where it came from."""
    (_FROM_CARD if from_card else _FROM_OWNERS).inc()


async def edge_answer(scope: Scope) -> bytes | None:
    """Return the body of a plain signed-in `GET /v1/users/me` from the card, else None.

    The caller's checks made here travel in the scope (`auth.SETTLED_AT_EDGE`), so
    the route that answers what is left (a miss, a refusal) does not count it again.
    """
    if scope["query_string"]:
        return None
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break  # the first, as the route's `HTTPBearer` reads it
    if authorization is None:
        return None
    scheme, token = get_authorization_scheme_param(authorization)
    if not token or scheme.lower() != "bearer":
        return None
    app = scope["app"]
    settings = app.state.settings
    try:
        user = await verify_access_token(token, app.state.jwks, settings.jwt_leeway_seconds)
    except Problem:
        return None  # the route answers the 401
    if user.is_admin:
        return None  # identity is asked for the current role (ADR 0052)
    gate = user_gate(settings, user)
    try:
        found, verdict = await read(app.state.scripts, user, gate)
    except Exception:  # the route reads again and answers as it always did
        log.debug("edge profile read failed; left to the route", exc_info=True)
        return None
    scope[SETTLED_AT_EDGE] = (gate, verdict)
    try:
        gate.settle(verdict)
    except Problem:
        return None  # the route answers the 401 or the 429
    if found is not None:
        _FROM_CARD.inc()
    return found

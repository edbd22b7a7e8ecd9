"""Admitting a join by id in one Redis round trip (ADR 0065, 0072).

Before a join is published the gateway makes the caller's checks (token
revocation, rate limit: `auth.Gate`), finds the competition's read-model card
and records the join as pending, so that a read right after the 202 already
says `pending`. `admit` makes all of it in one script, in that order and with
the answers the separate steps give: a refused caller records nothing, and a
missing card records nothing either (the caller then asks the internal API, as
ADR 0065 describes).
"""

from __future__ import annotations

import uuid
from typing import Any

from podium_contracts.redis_keys import competition_card_key
from podium_runtime.script_line import Scripts
from redis.commands.core import AsyncScript

from podium_gateway.auth import GATE_FUNCTION, Gate
from podium_gateway.config import Settings

#: How long a pending join is remembered for `GET .../enrollment` (decisions take ms).
PENDING_TTL_SECONDS = 3600

# KEYS card, pending[, the gate's 3 keys]; ARGV request id, TTL s, limit, window ms, issued at.
# Returns {1 when the card exists and the join was recorded pending, else 0; the gate's verdict}.
_ADMIT = (
    GATE_FUNCTION
    + """
local verdict = false
if #KEYS == 5 then
  verdict = gate(KEYS[3], ARGV[4], KEYS[4], KEYS[5], ARGV[5])
  if verdict[1] < 0 or verdict[1] > tonumber(ARGV[3]) then return {0, verdict} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, verdict} end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return {1, verdict}
"""
)
#: The script's text (loaded by the gateway's script line, `app.script_line`).
ADMIT_SCRIPT = _ADMIT
_ADMIT_SCRIPT = AsyncScript(None, _ADMIT.encode())  # type: ignore[arg-type]


def pending_key(settings: Settings, competition_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """Return the Redis key of a join the gateway published and competitions has not decided."""
    return f"{settings.redis_key_prefix}join-pending:{competition_id}:{user_id}"


async def admit(
    scripts: Scripts,
    gate: Gate | None,
    competition_id: uuid.UUID,
    pending: str,
    request_id: uuid.UUID,
) -> bool:
    """Make `gate`'s checks, then record the join pending if the competition's card exists.

    Raises what the checks found (401 `TOKEN_REVOKED`, 429), with nothing recorded.
    Returns False when the card is missing: nothing was recorded and the caller
    resolves the competition through the internal API (404 included). `scripts`:
    the app's (`app.state.scripts`, ADR 0101).
    """
    keys = [competition_card_key(competition_id), pending]
    args: list[Any] = [str(request_id), PENDING_TTL_SECONDS, 0, 0, 0]
    if gate is not None:
        keys += gate.keys()
        args[2:] = [gate.limit, *gate.arguments()]
    found, verdict = await scripts.run(_ADMIT_SCRIPT, keys, args)
    if gate is not None:
        gate.settle(verdict)
    return bool(found)

"""Redis rate limits with fixed windows, counted atomically (SPEC §8)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis.asyncio as redis
from podium_runtime.problems import Problem
from podium_runtime.script_line import Scripts

from podium_gateway.coalesce import Coalescer

# INCR and the first EXPIRE in one script, so a crash between them never leaves
# a counter without expiry (which would block the key forever). A Lua function, so
# other scripts count a request the same way (`podium_gateway.read_model`).
HIT_FUNCTION = """
local function hit(key, window_ms)
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, window_ms)
  end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window_ms)
    ttl = tonumber(window_ms)
  end
  return {count, ttl}
end
"""
_HIT = HIT_FUNCTION + "return hit(KEYS[1], ARGV[1])"


@dataclass(frozen=True)
class RateLimitResult:
    """The outcome of one counted request."""

    allowed: bool
    limit: int
    used: int
    remaining: int
    #: Seconds until the window resets (rounded up, at least 1).
    reset_after: int


async def hit(
    redis_client: redis.Redis, key: str, limit: int, window_seconds: int
) -> RateLimitResult:
    """Count one request against `key` and say whether it is within `limit` per window."""
    count, ttl_ms = await redis_client.eval(_HIT, 1, key, int(window_seconds * 1000))
    return counted(int(count), int(ttl_ms), limit)


def counted(count: int, ttl_ms: int, limit: int) -> RateLimitResult:
    """Return the outcome of a request counted `count`-th in a window ending in `ttl_ms`."""
    return RateLimitResult(
        allowed=count <= limit,
        limit=limit,
        used=count,
        remaining=max(0, limit - count),
        reset_after=max(1, math.ceil(ttl_ms / 1000)),
    )


def rate_limit_problem(result: RateLimitResult, detail: str = "Too many requests.") -> Problem:
    """Return the 429 `RATE_LIMIT_EXCEEDED` problem for a refused request, with `Retry-After`."""
    return Problem(
        429,
        "RATE_LIMIT_EXCEEDED",
        detail,
        extra={"limit": result.limit, "retry_after": result.reset_after},
        headers={
            "Retry-After": str(result.reset_after),
            "RateLimit-Limit": str(result.limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(result.reset_after),
        },
    )


async def enforce(
    redis_client: redis.Redis,
    key: str,
    limit: int,
    window_seconds: int,
    detail: str = "Too many requests.",
) -> RateLimitResult:
    """Count one request and raise 429 `RATE_LIMIT_EXCEEDED` with `Retry-After` when over."""
    result = await hit(redis_client, key, limit, window_seconds)
    if not result.allowed:
        raise rate_limit_problem(result, detail)
    return result


# KEYS: counters, ARGV: each one's window in ms (a key may repeat): every request counted
# in turn, answered {count1, ttl1, count2, ttl2, ...}. Run on the app's script line.
HITS_SCRIPT = (
    HIT_FUNCTION
    + """
local results = {}
for i, key in ipairs(KEYS) do
  local counted = hit(key, ARGV[i])
  results[2 * i - 1] = counted[1]
  results[2 * i] = counted[2]
end
return results
"""
)


class MergedHits:
    """Counts the requests of concurrent callers in one script call per round trip.

    For hot paths (the xAPI statement routes): each request is counted as `hit` counts
    it, in arrival order, so the limit is exactly as strict; only the round trips are
    shared (`podium_gateway.coalesce`).
    """

    def __init__(self, scripts: Scripts, max_hits: int = 500) -> None:
        """Count in the Redis of `scripts` (the app's), on its script line when it has one."""
        self._scripts = scripts
        self._script = scripts.client.register_script(HITS_SCRIPT)
        self._rounds: Coalescer[tuple[str, int], tuple[int, int]] = Coalescer(
            self._round, max_size=max_hits
        )

    async def _round(self, parts: list[tuple[str, int]]) -> list[tuple[int, int]]:
        answer = await self._scripts.run(
            self._script, [key for key, _ in parts], [window for _, window in parts]
        )
        return [(int(answer[2 * i]), int(answer[2 * i + 1])) for i in range(len(parts))]

    async def enforce(
        self, key: str, limit: int, window_seconds: int, detail: str = "Too many requests."
    ) -> RateLimitResult:
        """Count one request as `enforce` does: 429 `RATE_LIMIT_EXCEEDED` when over."""
        count, ttl_ms = await self._rounds.run((key, int(window_seconds * 1000)))
        result = counted(count, ttl_ms, limit)
        if not result.allowed:
            raise rate_limit_problem(result, detail)
        return result

"""The xAPI version each set of LRS credentials last spoke (xAPI Communication 3.3).

Every xAPI request but About must name its version in `X-Experience-API-Version`;
a request naming none is refused with 400, and that answer still carries the
header. Which version should it name? A learning tool speaks one version, so the
answer names the version the same credentials named last, and the configured
default (`xapi_default_version`) when they named none yet.

Only requests whose credentials verified are remembered (the route records after
authentication), keyed by the fingerprint of the key *and* secret, the same hash
the credential cache uses: a caller who knows a key but not its secret learns
nothing about that client. The memory is bounded: the newest `MAX_REMEMBERED`
fingerprints in this process, and a Redis key per fingerprint (expiring after
`REMEMBER_SECONDS`) that other gateway replicas read when they have not seen the
credentials themselves. Redis is written when a fingerprint's version changes,
else at most every `REFRESH_SECONDS`, so the statement path pays no Redis round
trip for it. A lookup trusts this process's own memory while it is younger than
`REFRESH_SECONDS` and reads Redis otherwise, so every replica follows a switch
of version within that time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

import redis.asyncio as redis
from podium_runtime.problems import Problem

from podium_gateway.lrs_auth import credential_fingerprint, parse_basic

log = logging.getLogger(__name__)

#: Fingerprints remembered in one gateway process (least recently spoken dropped first).
MAX_REMEMBERED = 10_000
#: Seconds a remembered version lives in Redis after its last write.
REMEMBER_SECONDS = 7 * 86400
#: Seconds between two Redis writes of an unchanged version for one fingerprint.
REFRESH_SECONDS = 60.0
#: Longest an answer to an unversioned request waits for Redis before using the default.
LOOKUP_TIMEOUT_SECONDS = 0.5


class SpokenVersions:
    """Remembers the answer version of each credential's last verified request."""

    def __init__(self, client: redis.Redis, prefix: str, max_remembered: int = MAX_REMEMBERED):
        self.client = client
        self.prefix = prefix
        self.max_remembered = max_remembered
        #: fingerprint -> (version, monotonic time of the last Redis write)
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._writes: set[asyncio.Task[None]] = set()

    def _key(self, fingerprint: str) -> str:
        return f"{self.prefix}xapi:version:{fingerprint}"

    def record(self, fingerprint: str, version: str) -> None:
        """Remember that verified credentials spoke `version` (no wait: Redis is written behind)."""
        now = time.monotonic()
        previous = self._seen.get(fingerprint)
        written = previous[1] if previous is not None and previous[0] == version else None
        if written is not None and now - written < REFRESH_SECONDS:
            self._seen.move_to_end(fingerprint)
            return
        self._seen[fingerprint] = (version, now)
        self._seen.move_to_end(fingerprint)
        while len(self._seen) > self.max_remembered:
            self._seen.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._write(fingerprint, version))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, fingerprint: str, version: str) -> None:
        try:
            await self.client.set(self._key(fingerprint), version, ex=REMEMBER_SECONDS)
        except Exception as exc:  # this process still remembers; other replicas use the default
            log.warning("spoken xAPI version not shared", extra={"error": repr(exc)[:200]})

    async def last(self, fingerprint: str) -> str | None:
        """Return the version these credentials last spoke, or None when unknown."""
        seen = self._seen.get(fingerprint)
        if seen is not None and time.monotonic() - seen[1] < REFRESH_SECONDS:
            return seen[0]  # what Redis holds, unless another replica wrote since
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_SECONDS):
                value = await self.client.get(self._key(fingerprint))
        except Exception:  # an answer to a refused request must not fail on Redis
            value = None
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str):
            return value
        return seen[0] if seen is not None else None

    async def flush(self) -> None:
        """Wait until every pending Redis write finished (tests, shutdown)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)


def basic_fingerprint(header: str | None) -> str | None:
    """Return the fingerprint of a request's Basic credentials, or None when it has none."""
    try:
        key, secret = parse_basic(header)
    except Problem:
        return None
    return credential_fingerprint(key, secret)

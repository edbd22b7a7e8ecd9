"""The profile card: a user's `GET /v1/users/me` answer kept in Redis by its owners (ADR 0074).

The card is one hash per user (`podium_contracts.redis_keys.profile_card_key`)
with one *part* per owner: identity writes `account` (the `UserOut` JSON), the
notifier writes `preferences` (the preference matrix JSON). The gateway reads
both in one command and answers from them; a missing part sends it to the
owners' internal APIs, which write their part again (`claim`, then `put`).

Exactness: a part is never left holding a state older than a committed change.
- Every part has a version token (`<part>:v`), a random value replaced by every
  write. A writer observes the token *before* it reads Postgres and writes only
  if the token is still the one it observed. Otherwise a refill (a read that
  missed) leaves the part as it is, and a change deletes it (a miss is always
  correct) and replaces the token.
- A change (`changed`, registered in the transaction that makes it) hides the
  part just before the commit (a Redis failure there refuses the change), and
  writes the new value once committed, compared against the token of its
  hide: a read that repopulated from Postgres between hide and commit cannot
  land after it, and a crash after the commit leaves a miss, not a stale part.
- Tokens are never observed absent (`claim` creates one), so a flushed or
  expired card fails every write in flight instead of accepting it.
- An erased account's card is deleted after the commit (`erased`).
- A card holding no part keeps its tokens `MARKS_SECONDS` only: they matter to
  writers in flight for milliseconds, and a token that vanished fails them safely.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from podium_contracts.redis_keys import profile_card_key
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from podium_runtime.db import Database, after_transaction, before_commit

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The parts and their owners: identity's account, the notifier's preferences.
ACCOUNT = "account"
PREFERENCES = "preferences"
#: How long a card holding no part keeps its version tokens.
MARKS_SECONDS = 600

# Lua: a card with no part left keeps its tokens for ARGV ms; a card with a part persists.
_TIDY = """
local function tidy(card, ms)
  if redis.call('HEXISTS', card, 'account') == 0
      and redis.call('HEXISTS', card, 'preferences') == 0 then
    redis.call('PEXPIRE', card, ms)
  else
    redis.call('PERSIST', card)
  end
end
"""

#: KEYS card; ARGV part, fresh token, marks ms. The part's token, created when absent.
_CLAIM = (
    _TIDY
    + """
local mark = ARGV[1] .. ':v'
if redis.call('HSETNX', KEYS[1], mark, ARGV[2]) == 1 then tidy(KEYS[1], ARGV[3]) end
return redis.call('HGET', KEYS[1], mark)
"""
)

#: KEYS card; ARGV part, fresh token, marks ms. Hide the part before a change commits.
_HIDE = (
    _TIDY
    + """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1] .. ':v', ARGV[2])
tidy(KEYS[1], ARGV[3])
return ARGV[2]
"""
)

#: KEYS card; ARGV part, observed token, value, fresh token, marks ms, drop. Write the part
#: if nobody wrote it since the token was observed; otherwise a change ('1') deletes it, a
#: refill ('0') leaves it. 1 when written.
_PUT = (
    _TIDY
    + """
local mark = ARGV[1] .. ':v'
if redis.call('HGET', KEYS[1], mark) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], mark, ARGV[4])
  tidy(KEYS[1], ARGV[5])
  return 1
end
if ARGV[6] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[1], mark, ARGV[4])
  tidy(KEYS[1], ARGV[5])
end
return 0
"""
)

#: Where a session finds the writer of its service's part (set by `attach`).
INFO_KEY = "podium_runtime.profile_card"
_PENDING = "podium_runtime.profile_card.pending"
#: A pending change that deletes the whole card (an erased account).
_ERASED = object()


def _token() -> str:
    return secrets.token_hex(12)


class ProfileCards:
    """Writes one part of the users' profile cards (the part its service owns)."""

    def __init__(self, redis: Redis, part: str, marks_seconds: int = MARKS_SECONDS) -> None:
        self.redis = redis
        self.part = part
        self.marks_ms = marks_seconds * 1000
        self._claim = redis.register_script(_CLAIM)
        self._hide = redis.register_script(_HIDE)
        self._put = redis.register_script(_PUT)

    async def claim(self, user_id: uuid.UUID) -> str:
        """Return the part's version token; call it before reading what the part is made of."""
        token = await self._claim(
            keys=[profile_card_key(user_id)], args=[self.part, _token(), self.marks_ms]
        )
        return token.decode() if isinstance(token, bytes) else str(token)

    async def put(
        self, user_id: uuid.UUID, observed: str, value: bytes, *, change: bool = False
    ) -> bool:
        """Write the part unless it was written since `observed` was observed; True if written.

        A refill (`change` False) that finds the part written since leaves it: the
        writer that came first read Postgres later, or a change in flight writes
        after it. A change's write (`change` True, after its commit) deletes the
        part instead: what is there may have been read before the commit.
        """
        args: list[str | bytes | int] = [
            self.part, observed, value, _token(), self.marks_ms, int(change),
        ]  # fmt: skip
        return bool(await self._put(keys=[profile_card_key(user_id)], args=args))

    async def hide(self, user_id: uuid.UUID) -> str:
        """Delete the part and replace its token; return the new token (`put` compares it)."""
        token = await self._hide(
            keys=[profile_card_key(user_id)], args=[self.part, _token(), self.marks_ms]
        )
        return token.decode() if isinstance(token, bytes) else str(token)

    async def erase(self, user_id: uuid.UUID) -> None:
        """Delete the whole card (both parts and their tokens)."""
        await self.redis.delete(profile_card_key(user_id))

    # --- around the transaction that changes a part ------------------------------------

    def changed(self, session: AsyncSession, user_id: uuid.UUID, value: bytes | None) -> None:
        """Record that this transaction changes the user's part: `value` (None: leave it out).

        The part is hidden just before the commit and `value` written once it
        committed. The last value recorded for a user in a transaction wins.
        """
        self._pending(session)[user_id] = value

    def erased(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Record that this transaction erases the user: the card is deleted once it committed."""
        self._pending(session)[user_id] = _ERASED

    def _pending(self, session: AsyncSession) -> dict[uuid.UUID, Any]:
        pending: dict[uuid.UUID, Any] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = {}
            tokens: dict[uuid.UUID, str] = {}

            async def hide() -> None:
                for user_id in sorted(pending):
                    tokens[user_id] = await self.hide(user_id)

            async def finish(committed: bool) -> None:
                session.info.pop(_PENDING, None)
                if not committed:
                    return  # hidden: the next read repopulates from what committed
                for user_id, value in sorted(pending.items()):
                    if value is _ERASED:
                        await self.erase(user_id)
                    elif value is not None and user_id in tokens:
                        await self.put(user_id, tokens[user_id], value, change=True)

            before_commit(session, hide)
            after_transaction(session, finish)
        return pending


def attach(database: Database, cards: ProfileCards) -> None:
    """Make `cards` the writer the sessions of `database` record their changes for."""
    info = dict(database.sessionmaker.kw.get("info") or {})
    info[INFO_KEY] = cards
    database.sessionmaker.configure(info=info)


def cards_of(session: AsyncSession) -> ProfileCards | None:
    """Return the writer attached to the session's database (None: the service keeps no part)."""
    cards: ProfileCards | None = session.info.get(INFO_KEY)
    return cards


async def refill(
    session: AsyncSession,
    user_id: uuid.UUID,
    read: Callable[[], Awaitable[_T]],
    render: Callable[[_T], bytes | None],
) -> _T:
    """Return `read()`, writing the user's part from it when the session's service keeps one.

    For the internal read a gateway miss falls back to: the token is claimed
    before `read()` reads Postgres, so a change committed meanwhile wins
    (`ProfileCards.put`). `render` returns the part's bytes, or None to write
    nothing. A Redis failure only means the next read misses too.
    """
    cards = cards_of(session)
    observed = None
    if cards is not None:
        try:
            observed = await cards.claim(user_id)
        except Exception:
            log.warning("profile card claim failed", exc_info=True)
    found = await read()
    if cards is not None and observed is not None:
        value = render(found)
        if value is not None:
            try:
                await cards.put(user_id, observed, value)
            except Exception:
                log.warning("profile card write failed", exc_info=True)
    return found

"""The gateway's read model of competitions, written by this service around its commits (ADR 0041).

For every competition Redis holds a *card* (the facts that decide visibility and
the details document, `podium_contracts.read_models.CompetitionCard`) and the
set of accepted participants; the gateway reads both in one round trip and falls
back to the internal API when the card is missing. Keys and shapes live in
`podium_contracts`.

Exactness (a private board never reaches a stranger after a change):
- a change of a competition deletes its card *before* the commit and marks the
  competition `pending`; readers miss and ask Postgres until the change ended;
- a removed participant is deleted from the members hash before the commit and
  again after it; an added one is written after the commit only;
- every write of a card or of the members is fenced by a generation counter
  (`gen`), bumped by each change when it ended, so a rebuild that read
  Postgres before a change never lands after it.
A Redis failure before the commit refuses the change (the transaction rolls
back): a card that could not be invalidated must not outlive the change it hides.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from podium_contracts.read_models import CompetitionCard
from podium_contracts.redis_keys import (
    MEMBERS_LOADED,
    NAMESPACE,
    competition_card_key,
    competition_fence_key,
    competition_members_key,
)
from podium_runtime.db import Database, after_transaction, before_commit
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import repository  # imports this module first: use at call time
from podium_competitions.schemas import Viewer
from podium_competitions.views import to_competition

log = logging.getLogger(__name__)

#: Where a session finds the read model (set on the sessionmaker by `attach`).
INFO_KEY = "podium_competitions.read_model"
_CHANGES = "podium_competitions.read_model.changes"

#: Members written per command while rebuilding (bounded command size).
CHUNK = 1000
#: A rebuild's scratch hash is renamed within milliseconds; this only collects leftovers.
SCRATCH_SECONDS = 300

# KEYS: card, fence. A change is starting: hide the card until it ended.
_INVALIDATE = """
redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('HINCRBY', KEYS[2], 'pending', 1)
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: fence. A change ended (committed or rolled back).
_END = """
local left = redis.call('HINCRBY', KEYS[1], 'pending', -1)
if left < 0 then redis.call('HSET', KEYS[1], 'pending', 0) end
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
"""

# KEYS: fence. A rebuild starts: the generation it must still find when it writes. Every
# change bumps `gen` once it ended (`_END`, `_ADD`, `_REMOVE`); rebuilds do not, so
# concurrent rebuilds of the same committed state never fence each other out.
_BEGIN = "return tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')"

# KEYS: members, fence; ARGV: user ids. Participants leave: fence them, forget them.
_REMOVE = """
redis.call('HINCRBY', KEYS[2], 'gen', 1)
for i = 1, #ARGV do
  redis.call('HINCRBY', KEYS[2], 'rm:' .. ARGV[i], 1)
  redis.call('HDEL', KEYS[1], ARGV[i])
end
return 1
"""

# KEYS: fence; ARGV: user ids. The removal fences of participants about to be added.
_FENCES = """
local out = {}
for i = 1, #ARGV do out[i] = redis.call('HGET', KEYS[1], 'rm:' .. ARGV[i]) or '' end
return out
"""

# KEYS: members, fence; ARGV: n, n user ids, n fences. Added once committed, unless removed since.
_ADD = """
redis.call('HINCRBY', KEYS[2], 'gen', 1)
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
for i = 1, n do
  local fence = redis.call('HGET', KEYS[2], 'rm:' .. ARGV[1 + i]) or ''
  if fence == ARGV[1 + n + i] then redis.call('HSET', KEYS[1], ARGV[1 + i], '1') end
end
return 1
"""

# KEYS: card, members, fence; ARGV: gen, card. A card, only beside a members hash, unfenced.
_WRITE_CARD = """
local fence = redis.call('HMGET', KEYS[3], 'gen', 'pending')
if tonumber(fence[1] or '0') ~= tonumber(ARGV[1]) or tonumber(fence[2] or '0') > 0 then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# KEYS: card, members, fence, scratch; ARGV: gen, card. A whole rebuild, unfenced.
_WRITE_ALL = """
local fence = redis.call('HMGET', KEYS[3], 'gen', 'pending')
if tonumber(fence[1] or '0') ~= tonumber(ARGV[1]) or tonumber(fence[2] or '0') > 0 then
  redis.call('DEL', KEYS[4])
  return 0
end
redis.call('RENAME', KEYS[4], KEYS[2])
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# KEYS: fence, card. At start: no change of this replica is in flight any more.
_RESET = """
redis.call('HSET', KEYS[1], 'pending', 0)
redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('DEL', KEYS[2])
return 1
"""


class _Changes:
    """What one transaction changed, gathered by the repository."""

    def __init__(self) -> None:
        self.competitions: set[uuid.UUID] = set()
        self.created: set[uuid.UUID] = set()
        self.added: dict[uuid.UUID, set[str]] = {}
        self.removed: dict[uuid.UUID, set[str]] = {}
        self.fences: dict[uuid.UUID, list[str]] = {}

    def touched(self) -> set[uuid.UUID]:
        return self.competitions | set(self.added) | set(self.removed)


class CompetitionReadModel:
    """Writes the competitions read model around the commits that change it."""

    def __init__(self, redis: Redis, database: Database) -> None:
        self.redis = redis
        self.database = database
        self._invalidate = redis.register_script(_INVALIDATE)
        self._end = redis.register_script(_END)
        self._begin = redis.register_script(_BEGIN)
        self._remove = redis.register_script(_REMOVE)
        self._fences = redis.register_script(_FENCES)
        self._add = redis.register_script(_ADD)
        self._write_card = redis.register_script(_WRITE_CARD)
        self._write_all = redis.register_script(_WRITE_ALL)
        self._reset = redis.register_script(_RESET)

    # --- around a transaction --------------------------------------------------------

    async def prepare(self, changes: _Changes) -> None:
        """Before the commit: hide changed cards, forget removed participants, read fences.

        One pipelined round trip whatever the number of competitions touched.
        """
        added = sorted(changes.added.items())
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in sorted(changes.competitions):
                keys = [competition_card_key(cid), competition_fence_key(cid)]
                await self._invalidate(keys=keys, client=pipe)
            for cid, users in sorted(changes.removed.items()):
                await self._remove(keys=_member_keys(cid), args=sorted(users), client=pipe)
            for cid, users in added:
                fence = [competition_fence_key(cid)]
                await self._fences(keys=fence, args=sorted(users), client=pipe)
            answers = await pipe.execute()
        fenced = answers[len(answers) - len(added) :] if added else []
        for (cid, _), got in zip(added, fenced, strict=True):
            changes.fences[cid] = [_text(value) for value in got]

    async def finish(self, changes: _Changes, committed: bool) -> None:
        """After the transaction: end the changes, apply membership, rewrite the cards."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in sorted(changes.competitions):
                await self._end(keys=[competition_fence_key(cid)], client=pipe)
            for cid, users in sorted(changes.removed.items()):
                await self._remove(keys=_member_keys(cid), args=sorted(users), client=pipe)
                if not committed:  # they are members again: rebuild on the next read
                    pipe.delete(competition_card_key(cid), competition_members_key(cid))
            for cid, users in sorted(changes.added.items()) if committed else []:
                fences = changes.fences.get(cid)
                if fences is None:
                    continue
                ordered = sorted(users)
                args: list[str | int] = [len(ordered), *ordered, *fences]
                await self._add(keys=_member_keys(cid), args=args, client=pipe)
            await pipe.execute()
        await self.refresh_cards(sorted(changes.touched() - changes.created))
        if committed:
            for cid in sorted(changes.created):
                await self.rebuild(cid)

    # --- rebuilding ------------------------------------------------------------------

    async def refresh_cards(self, competition_ids: list[uuid.UUID]) -> int:
        """Rewrite cards from Postgres, where a members hash exists; return how many were written.

        Three round trips whatever the number (a join batch touches many
        competitions): read the fences, read the rows, write the cards. Each write
        is fenced as one alone would be.
        """
        if not competition_ids:
            return 0
        fences = [competition_fence_key(cid) for cid in competition_ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            for fence in fences:
                await self._begin(keys=[fence], client=pipe)
            gens = await pipe.execute()
        async with self.database.session() as session:
            rows = await repository.competitions_for_cards(session, competition_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid, fence, gen in zip(competition_ids, fences, gens, strict=True):
                row = rows.get(cid)
                if row is None:
                    continue
                keys = [competition_card_key(cid), competition_members_key(cid), fence]
                card = _card(row)
                await self._write_card(keys=keys, args=[gen, card], client=pipe)
            written = await pipe.execute()
        return sum(1 for answer in written if answer)

    async def rebuild(self, competition_id: uuid.UUID) -> bool:
        """Write a competition's card and members from Postgres; True when written.

        Nothing is written when the competition does not exist, or when a change
        began or ended meanwhile (its own writes then stand).
        """
        fence = competition_fence_key(competition_id)
        gen = await self._begin(keys=[fence])
        async with self.database.session() as session:
            row = (await repository.competitions_for_cards(session, [competition_id])).get(
                competition_id
            )
            if row is None:
                return False
            members = [str(m) for m in await repository.participant_ids(session, competition_id)]
        scratch = f"{competition_members_key(competition_id)}:rebuild:{uuid.uuid4().hex}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(scratch, MEMBERS_LOADED, "1")
            for start in range(0, len(members), CHUNK):
                chunk = members[start : start + CHUNK]
                pipe.hset(scratch, mapping=dict.fromkeys(chunk, "1"))
            pipe.expire(scratch, SCRATCH_SECONDS)
            await pipe.execute()
        keys = [
            competition_card_key(competition_id),
            competition_members_key(competition_id),
            fence,
            scratch,
        ]
        return bool(await self._write_all(keys=keys, args=[gen, _card(row)]))

    async def reset(self) -> int:
        """At start: clear `pending` left by a crash and hide every card; return how many."""
        count = 0
        async for key in self.redis.scan_iter(match=f"{NAMESPACE}competition:*:fence", count=500):
            name = _text(key)
            card = name.removesuffix(":fence") + ":card"
            await self._reset(keys=[name, card])
            count += 1
        return count


# --- what the repository calls ---------------------------------------------------------


def attach(database: Database, read_model: CompetitionReadModel) -> None:
    """Make every session of `database` record its changes for `read_model`."""
    database.sessionmaker.configure(info={INFO_KEY: read_model})


def read_model_of(database: Database) -> CompetitionReadModel:
    """Return the read model attached to `database`."""
    read_model: CompetitionReadModel = database.sessionmaker.kw["info"][INFO_KEY]
    return read_model


def reset_at_start(read_model: CompetitionReadModel) -> Any:
    """Return the one-shot job that runs `CompetitionReadModel.reset` when the service starts."""

    async def reset_read_model() -> None:
        try:
            count = await read_model.reset()
            log.info("read model reset", extra={"count": count})
        except Exception:
            log.exception("read model reset failed; cards are rebuilt on their next change")

    return reset_read_model


def competition_created(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Record that a competition is created in this transaction (its card follows the commit)."""
    changes = _changes(session)
    if changes is not None:
        changes.created.add(competition_id)


def competition_changed(session: AsyncSession, competition_ids: Iterable[uuid.UUID]) -> None:
    """Record that competitions' facts or documents change in this transaction."""
    changes = _changes(session)
    if changes is not None:
        changes.competitions.update(competition_ids)


def members_changed(
    session: AsyncSession, rows: Iterable[tuple[uuid.UUID, uuid.UUID, str]]
) -> None:
    """Record enrollments saved in this transaction: (competition id, user id, status)."""
    changes = _changes(session)
    if changes is None:
        return
    for competition_id, user_id, status in rows:
        target = changes.added if status == "accepted" else changes.removed
        other = changes.removed if status == "accepted" else changes.added
        target.setdefault(competition_id, set()).add(str(user_id))
        other.get(competition_id, set()).discard(str(user_id))


def _changes(session: AsyncSession) -> _Changes | None:
    read_model: CompetitionReadModel | None = session.info.get(INFO_KEY)
    if read_model is None:
        return None
    changes: _Changes | None = session.info.get(_CHANGES)
    if changes is None:
        changes = session.info[_CHANGES] = _Changes()
        model = read_model
        recorded = changes

        async def prepare() -> None:
            await model.prepare(recorded)

        async def finish(committed: bool) -> None:
            await asyncio.shield(model.finish(recorded, committed))

        before_commit(session, prepare)
        after_transaction(session, finish)
    return changes


# --- rows -----------------------------------------------------------------------------


def _card(row: Any) -> str:
    """Return the card of a row of `repository.competitions_for_cards`, as JSON."""
    limit = row.daily_submission_limit if row.kind == "prediction" else None
    document = to_competition(row, None, Viewer(role="viewer", submissions_limit=limit))
    card = CompetitionCard(
        id=row.id,
        owner_id=row.owner_id,
        kind=row.kind,
        status=row.status,
        visibility=row.visibility,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        timezone=row.timezone,
        metric=row.metric,
        daily_submission_limit=row.daily_submission_limit,
        teams=row.has_teams,
        document=document.model_dump(mode="json"),
    )
    return card.model_dump_json()


def _member_keys(competition_id: uuid.UUID) -> list[str]:
    return [competition_members_key(competition_id), competition_fence_key(competition_id)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

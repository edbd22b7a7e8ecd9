"""The board kernel shared by prediction leaderboards and activity boards (SPEC §7.2-7.3).

One sequence for every board: take the board's lock (`repository.lock_board`),
rank (each kind's pure `domain`), store the ranks, mirror the board to Redis
(`write_board`) and announce who moved (`announce_rank_changes`, the diff of
`domain.rank_changes` as `leaderboard.rank_changed` events in the outbox).

The Redis mirror is read by the gateway (SPEC §6). Redis is a projection, never the
source of truth (ADR 0031): a board is staged in the Postgres transaction that ranked
it and written to Redis only after that transaction committed (`BoardWriter`), so a
Redis failure can never roll the board back. A board whose write fails stays pending
and is written again with backoff; of several pending versions of one board only the
newest is written, and a write never replaces a newer `as_of` already in Redis. A
mirror lost in a crash or a Redis flush is found and rebuilt by the audit job
(`tasks.mirror_audit`).

Prediction leaderboards and activity boards share one layout: three keys per
board (key formats in `podium_contracts.redis_keys`, value shapes in
`podium_contracts.read_models`), a sorted set of the lines in rank order, whose
positions are the ranks (ADR 0091), a hash member -> entry JSON with the shared
entry shape (rank left out), and a meta hash with `as_of` and `total`. A board is
rewritten whole in one MULTI/EXEC (a large one is written to staging keys first, in
chunks, and renamed in it), so a reader never sees half of an update.

A prediction board also changes by deltas (ADR 0044): one line placed, moved or
removed, applied by one Lua script only when Redis holds the version the delta was
computed on (`base`). The lines it passes change place without being written. A
delta whose base is missing waits for the write before it (another replica's) and,
should that never come, drops the board's meta so the audit rebuilds it whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
from podium_contracts.events import RankChanged
from podium_contracts.read_models import BoardEntry, BoardMeta
from podium_contracts.redis_keys import Period, Split, board_changes_channel
from podium_runtime.db import after_commit
from podium_runtime.failures import Backoff, FailureLog
from podium_runtime.outbox import EventRun, Outbox, new_event_run
from podium_runtime.script_line import ScriptLine, script_sha
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.domain import RankChange, RankedLine, rank_changes

#: The producer name of the events competitions emits.
PRODUCER = "competitions"

log = logging.getLogger(__name__)

BoardKeys = tuple[str, str, str]

# One delta, atomically, only on top of the version it was computed on; once applied it
# announces the new version on the board's channel (`board_changes_channel`), in the same
# call. A line's rank is its position (ADR 0091), so only the lines placed or removed
# change, however many lines they pass. ARGV: base as_of, new as_of, total, the channel,
# number of removals, the removed ids, then (id, zset score, member, entry JSON) per
# placed line. A line's JSON is under its member; where that is not its id, the field
# `<id>:at` holds the member.
_DELTA = """
local stored = redis.call('HGET', KEYS[3], 'as_of') or ''
if stored ~= ARGV[1] then return {0, stored} end
local function unplace(id)
  local at = redis.call('HGET', KEYS[2], id .. ':at')
  if at then
    redis.call('ZREM', KEYS[1], at)
    redis.call('HDEL', KEYS[2], at, id .. ':at')
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
local removals = tonumber(ARGV[5])
for i = 6, 5 + removals do unplace(ARGV[i]) end
for i = 6 + removals, #ARGV, 4 do
  unplace(ARGV[i])
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i + 2])
  redis.call('HSET', KEYS[2], ARGV[i + 2], ARGV[i + 3])
  if ARGV[i + 2] ~= ARGV[i] then redis.call('HSET', KEYS[2], ARGV[i] .. ':at', ARGV[i + 2]) end
end
redis.call('HSET', KEYS[3], 'as_of', ARGV[2], 'total', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return {1, ARGV[2]}
"""
#: The scripts a board writer's `ScriptLine` loads on each connection it opens.
BOARD_SCRIPTS = (_DELTA,)
#: The name Redis knows `_DELTA` by.
DELTA_SHA = script_sha(_DELTA)

#: Tries of a delta whose base version is not in Redis yet before the board is rebuilt.
DELTA_BASE_TRIES = 20


@dataclass(frozen=True)
class MirrorLine:
    """A line as mirrored: its entry, and its place in the board's sorted set.

    `score` and `member` order the set as the board is ranked (ADR 0091); the member
    ends with the line's user id (`redis_keys.member_user_id`).
    """

    entry: BoardEntry
    score: float
    member: str

    @classmethod
    def by_rank(cls, entry: BoardEntry) -> MirrorLine:
        """Place a line by its rank alone: for a board written whole, never changed by deltas."""
        return cls(entry, float(entry.rank), str(entry.user_id))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_micros(at: datetime | None) -> int:
    """Microseconds from the epoch to `at`, a member's first tie-break (0 for none, or for
    an instant before the epoch, which no line has)."""
    return max(0, (at - _EPOCH) // _MICROSECOND) if at is not None else 0


@dataclass(frozen=True)
class BoardDelta:
    """One update of a board: lines placed (or moved) and lines removed."""

    #: The version (`as_of`) the delta applies to; None for a board never stored.
    base: datetime | None
    as_of: datetime
    total: int
    removed: Sequence[uuid.UUID] = ()
    placed: Sequence[MirrorLine] = field(default_factory=list)


async def apply_delta(
    client: redis.Redis, keys: BoardKeys, delta: BoardDelta, line: ScriptLine | None = None
) -> str:
    """Apply one delta; return `applied`, `stale` (Redis is newer) or `early` (base missing)."""
    return (await apply_deltas(client, [(keys, delta)], line))[0]


async def apply_deltas(
    client: redis.Redis,
    deltas: Sequence[tuple[BoardKeys, BoardDelta]],
    line: ScriptLine | None = None,
) -> list[str]:
    """Apply one delta to each of some boards in one round trip; return each one's outcome.

    Each delta is its own script call, atomic on its own board and announcing the new
    version when applied; the calls travel together (not a transaction): on `line`,
    the service's own pipelined connection for its scripts, when it has one (ADR 0101),
    else in one redis-py pipeline. An outcome is `applied`, `stale` (Redis is newer) or
    `early` (base missing).
    """
    calls = [(keys, _delta_args(keys, delta)) for keys, delta in deltas]
    if line is not None and line.available:
        replies = await asyncio.gather(
            *(line.evalsha(DELTA_SHA, keys, args) for keys, args in calls)
        )
    else:
        async with client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.eval(_DELTA, 3, *keys, *args)
            replies = await pipe.execute()
    outcomes = []
    for (_, delta), (applied, stored) in zip(deltas, replies, strict=True):
        text = stored.decode() if isinstance(stored, bytes) else stored
        if applied:
            outcomes.append("applied")
        elif text and datetime.fromisoformat(text) >= delta.as_of:
            outcomes.append("stale")
        else:
            outcomes.append("early")
    return outcomes


def _delta_args(keys: BoardKeys, delta: BoardDelta) -> list[str | int | float]:
    """Return the arguments of `_DELTA` for one delta."""
    args: list[str | int | float] = [
        delta.base.isoformat() if delta.base else "",
        delta.as_of.isoformat(),
        delta.total,
        board_changes_channel(keys[2]),
        len(delta.removed),
        *(str(user_id) for user_id in delta.removed),
    ]
    for line in delta.placed:
        args += [str(line.entry.user_id), line.score, line.member, line.entry.to_json()]
    return args


#: Lines per round trip when a board is written whole. A larger board goes in chunks to
#: staging keys, between which the event loop serves everything else, and is then
#: swapped in at once; the staging keys expire if the writer dies half way.
WRITE_CHUNK = 5_000
STAGING_TTL_SECONDS = 600


async def write_board(
    client: redis.Redis,
    keys: BoardKeys,
    lines: Sequence[MirrorLine],
    as_of: datetime,
) -> bool:
    """Replace one board, given as its (ranks, entries, meta) keys, atomically.

    Returns False, writing nothing, when Redis already holds a newer version. A board
    of more than `WRITE_CHUNK` lines is written to staging keys first, a chunk per round
    trip, then renamed onto the board's keys in the transaction that checks the version:
    readers see the old board or the new one, never a half.
    """
    ranks_key, entries_key, meta_key = keys
    staging: tuple[str, str] | None = None
    if len(lines) > WRITE_CHUNK:
        token = os.urandom(6).hex()
        staging = (f"{ranks_key}:staging:{token}", f"{entries_key}:staging:{token}")
    try:
        if staging is not None:
            for start in range(0, len(lines), WRITE_CHUNK):
                async with client.pipeline(transaction=False) as pipe:
                    _put_lines(pipe, staging, lines[start : start + WRITE_CHUNK])
                    for key in staging:
                        pipe.expire(key, STAGING_TTL_SECONDS)
                    await pipe.execute()
        async with client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(meta_key)
                    stored = BoardMeta.from_values(await pipe.hmget(meta_key, ["as_of", "total"]))
                    if stored.as_of is not None and stored.as_of > as_of:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return False
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if staging is not None:
                        for source, target in zip(staging, keys[:2], strict=True):
                            pipe.rename(source, target)
                            pipe.persist(target)
                    else:
                        pipe.delete(ranks_key, entries_key)
                        _put_lines(pipe, (ranks_key, entries_key), lines)
                    meta = BoardMeta(as_of=as_of, total=len(lines)).to_hash()
                    pipe.hset(meta_key, mapping={field: value for field, value in meta.items()})
                    await pipe.execute()
                    return True
                except WatchError:
                    continue  # another writer changed the board meanwhile: compare again
    finally:
        if staging is not None:
            await client.delete(*staging)  # nothing left after the rename


def _put_lines(pipe: Pipeline, keys: tuple[str, str], lines: Sequence[MirrorLine]) -> None:
    """Queue lines into a board's sorted set and entries hash (`keys`)."""
    if not lines:
        return
    ranks_key, entries_key = keys
    pipe.zadd(ranks_key, {line.member: line.score for line in lines})
    # Lines under their members; a member other than the user id is also kept as
    # `<id>:at` (ADR 0091).
    pipe.hset(
        entries_key,
        mapping={
            **{line.member: line.entry.to_json() for line in lines},
            **{
                f"{line.entry.user_id}:at": line.member
                for line in lines
                if line.member != str(line.entry.user_id)
            },
        },
    )


async def announce_rank_changes(
    session: AsyncSession,
    outbox: Outbox | None,
    competition_id: uuid.UUID,
    before: Mapping[uuid.UUID, int],
    after: Iterable[RankedLine],
    *,
    split: Split = "public",
    period: Period = "all",
    recipients: Mapping[uuid.UUID, Sequence[uuid.UUID]] | None = None,
) -> None:
    """Stage one `leaderboard.rank_changed` per participant whose rank moved (none on rebuild).

    `recipients` maps a line to the people told of its move instead of the line's
    own id: a team's members (SPEC §10.2), or nobody for a sponsor's baseline.
    """
    await announce_changes(
        session,
        outbox,
        competition_id,
        rank_changes(before, after),
        split=split,
        period=period,
        recipients=recipients,
    )


async def announce_changes(
    session: AsyncSession,
    outbox: Outbox | None,
    competition_id: uuid.UUID,
    changes: Iterable[RankChange],
    *,
    split: Split = "public",
    period: Period = "all",
    recipients: Mapping[uuid.UUID, Sequence[uuid.UUID]] | None = None,
) -> None:
    """Stage one `leaderboard.rank_changed` per change (and per recipient of its line)."""
    if outbox is not None:
        events = rank_changed_events(
            competition_id, changes, split=split, period=period, recipients=recipients
        )
        await outbox.add(session, *events)


def rank_changed_events(
    competition_id: uuid.UUID,
    changes: Iterable[RankChange],
    *,
    split: Split = "public",
    period: Period = "all",
    recipients: Mapping[uuid.UUID, Sequence[uuid.UUID]] | None = None,
) -> list[EventRun]:
    """Return one `leaderboard.rank_changed` per change (and per recipient of its line).

    As one run (ADR 0099, 0102), none when nothing changed: the first event is
    validated, the others share its envelope and the board's fields, and their own
    values (ranks and scores the placement computed) go in as columns, a few hundred
    nanoseconds each; an arrival in the middle of a large board moves tens of thousands
    of lines at once.
    """
    told = recipients or {}
    lines = [
        (user_id, change)
        for change in changes
        for user_id in told.get(change.user_id, (change.user_id,))
    ]
    run = new_event_run(
        RankChanged,
        PRODUCER,
        {"competition_id": str(competition_id), "split": split, "period": period},
        {
            "user_id": [str(user_id) for user_id, _ in lines],  # ids as text (`EventRun`)
            "old_rank": [change.old_rank for _, change in lines],
            "new_rank": [change.new_rank for _, change in lines],
            "score": [change.score for _, change in lines],
        },
    )
    return [run] if run is not None else []


class BoardWriter:
    """Writes staged boards to Redis after their transaction committed; retries failures."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        line: ScriptLine | None = None,
        retry_initial: float = 0.1,
        retry_cap: float = 5.0,
    ):
        """Write through `client`; deltas travel on `line` when given (ADR 0101)."""
        self.client = client
        self.line = line
        self._pending: dict[BoardKeys, tuple[list[MirrorLine], datetime]] = {}
        self._deltas: dict[BoardKeys, list[BoardDelta]] = {}
        self._early: dict[BoardKeys, int] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry = (retry_initial, retry_cap)
        self._failures = FailureLog(log)

    def stage(
        self,
        session: AsyncSession,
        keys: BoardKeys,
        lines: Sequence[MirrorLine],
        as_of: datetime,
    ) -> None:
        """Write this board once `session` commits (never if it rolls back)."""
        board = (list(lines), as_of)
        after_commit(session, lambda: self._enqueue(keys, board))

    def stage_delta(self, session: AsyncSession, keys: BoardKeys, delta: BoardDelta) -> None:
        """Apply this delta to the board once `session` commits (never if it rolls back)."""
        after_commit(session, lambda: self._enqueue_delta(keys, delta))

    @property
    def pending(self) -> int:
        """Boards committed in Postgres and not yet in Redis."""
        return len(self._pending.keys() | self._deltas.keys())

    def _enqueue(self, keys: BoardKeys, board: tuple[list[MirrorLine], datetime]) -> None:
        current = self._pending.get(keys)
        if current is None or current[1] <= board[1]:
            self._pending[keys] = board
            # The whole board holds every earlier delta.
            later = [d for d in self._deltas.pop(keys, []) if d.as_of > board[1]]
            if later:
                self._deltas[keys] = later
        self._start_flush()

    def _enqueue_delta(self, keys: BoardKeys, delta: BoardDelta) -> None:
        self._deltas.setdefault(keys, []).append(delta)
        self._start_flush()

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Write every pending board; keep retrying with backoff until Redis takes them."""
        async with self._lock:
            waits = Backoff(*self._retry)
            while self._pending or self._deltas:
                try:
                    await self._write_next(waits)
                except Exception as exc:
                    self._failures.log(
                        logging.WARNING,
                        "board mirror write failed; the board stays pending",
                        exc,
                        extra={"pending": len(self._pending)},
                    )
                    await asyncio.sleep(waits.next_delay())
            self._failures.recovered()

    async def _write_next(self, waits: Backoff) -> None:
        """Write one pending whole board, or the oldest delta of every board with deltas.

        The deltas of several boards (a score moves the public and the private board)
        go to Redis in one round trip, each announcing its version as it is applied.
        """
        if self._pending:
            keys, board = next(iter(self._pending.items()))
            if await write_board(self.client, keys, *board):
                await self._publish_version(keys, board[1])
            if self._pending.get(keys) is board:
                del self._pending[keys]
            return
        batch = [(keys, deltas, deltas[0]) for keys, deltas in self._deltas.items()]
        outcomes = await apply_deltas(
            self.client, [(keys, delta) for keys, _, delta in batch], self.line
        )
        waiting = False
        for (keys, deltas, _), outcome in zip(batch, outcomes, strict=True):
            if outcome == "early":
                # The write of the version before it is still under way elsewhere.
                tries = self._early.get(keys, 0) + 1
                self._early[keys] = tries
                if tries < DELTA_BASE_TRIES:
                    waiting = True
                    continue
                log.warning(
                    "board mirror out of step; the audit rebuilds it", extra={"key": keys[2]}
                )
                await self.client.delete(keys[2])
                self._deltas.pop(keys, None)
                self._early.pop(keys, None)
                continue
            self._early.pop(keys, None)
            if self._deltas.get(keys) is deltas:
                deltas.pop(0)
                if not deltas:
                    del self._deltas[keys]
        if waiting:
            await asyncio.sleep(waits.next_delay())

    async def _publish_version(self, keys: BoardKeys, as_of: datetime) -> None:
        """Tell the board's watchers (the gateway's SSE streams) that Redis holds `as_of`.

        Pub/sub is fire-and-forget: a stream that misses it reconnects with its
        `Last-Event-ID` and compares versions, so a failure here is only logged.
        """
        try:
            await self.client.publish(board_changes_channel(keys[2]), as_of.isoformat())
        except Exception as exc:
            self._failures.log(logging.WARNING, "board change not announced", exc)

    async def close(self) -> None:
        """Stop pending writes (the audit rebuilds whatever they would have written)."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def boards_stale(
    client: redis.Redis, boards: Sequence[tuple[str, BoardMeta]], *, versions: bool = False
) -> list[bool]:
    """For each (meta key, the board as Postgres holds it): True when Redis lacks the board or
    holds another number of lines, and with `versions` when it holds another version (a
    write lost between a commit and Redis). One round trip for all of them.

    Without `versions` a board whose write is under way reads as it should; with them it
    reads stale until its write lands.
    """
    async with client.pipeline(transaction=False) as pipe:
        for meta_key, _ in boards:
            pipe.hmget(meta_key, ["as_of", "total"])
        stored = await pipe.execute()
    stale = []
    for (_, expected), values in zip(boards, stored, strict=True):
        held = BoardMeta.from_values(values)
        # An empty board reads the same with or without keys.
        miscounted = expected.total != 0 and (values[0] is None or held.total != expected.total)
        other_version = versions and values[0] is not None and held.as_of != expected.as_of
        stale.append(miscounted or other_version)
    return stale

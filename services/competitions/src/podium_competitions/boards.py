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
`podium_contracts.read_models`), a sorted set user id -> rank,
a hash user id -> entry JSON with the shared entry shape, and a meta hash with
`as_of` and `total`. A board is rewritten whole in one MULTI/EXEC, so a reader
never sees half of an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import redis.asyncio as redis
from podium_contracts.events import RankChanged, RankChangedData
from podium_contracts.read_models import BoardEntry, BoardMeta
from podium_contracts.redis_keys import Period, Split
from podium_runtime.db import after_commit
from podium_runtime.failures import Backoff, FailureLog
from podium_runtime.outbox import Outbox, new_event
from redis.exceptions import WatchError
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.domain import RankedLine, rank_changes

#: The producer name of the events competitions emits.
PRODUCER = "competitions"

log = logging.getLogger(__name__)

BoardKeys = tuple[str, str, str]


async def write_board(
    client: redis.Redis,
    keys: BoardKeys,
    entries: Sequence[BoardEntry],
    as_of: datetime,
) -> bool:
    """Replace one board, given as its (ranks, entries, meta) keys, atomically.

    Returns False, writing nothing, when Redis already holds a newer version.
    """
    ranks_key, entries_key, meta_key = keys
    async with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(meta_key)
                stored = BoardMeta.from_values(await pipe.hmget(meta_key, ["as_of", "total"]))
                if stored.as_of is not None and stored.as_of > as_of:
                    await pipe.reset()  # type: ignore[no-untyped-call]
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.delete(ranks_key, entries_key)
                if entries:
                    pipe.zadd(ranks_key, {str(e.user_id): e.rank for e in entries})
                    pipe.hset(entries_key, mapping={str(e.user_id): e.to_json() for e in entries})
                meta = BoardMeta(as_of=as_of, total=len(entries)).to_hash()
                pipe.hset(meta_key, mapping={field: value for field, value in meta.items()})
                await pipe.execute()
                return True
            except WatchError:
                continue  # another writer changed the board meanwhile: compare again


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
    if outbox is None:
        return
    told = recipients or {}
    events = [
        new_event(
            RankChanged,
            PRODUCER,
            RankChangedData(
                competition_id=competition_id,
                user_id=user_id,
                split=split,
                period=period,
                old_rank=change.old_rank,
                new_rank=change.new_rank,
                score=change.score,
            ),
        )
        for change in rank_changes(before, after)
        for user_id in told.get(change.user_id, [change.user_id])
    ]
    if events:
        await outbox.add(session, *events)


class BoardWriter:
    """Writes staged boards to Redis after their transaction committed; retries failures."""

    def __init__(self, client: redis.Redis, *, retry_initial: float = 0.1, retry_cap: float = 5.0):
        self.client = client
        self._pending: dict[BoardKeys, tuple[list[BoardEntry], datetime]] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry = (retry_initial, retry_cap)
        self._failures = FailureLog(log)

    def stage(
        self,
        session: AsyncSession,
        keys: BoardKeys,
        entries: Sequence[BoardEntry],
        as_of: datetime,
    ) -> None:
        """Write this board once `session` commits (never if it rolls back)."""
        board = (list(entries), as_of)
        after_commit(session, lambda: self._enqueue(keys, board))

    @property
    def pending(self) -> int:
        """Boards committed in Postgres and not yet in Redis."""
        return len(self._pending)

    def _enqueue(self, keys: BoardKeys, board: tuple[list[BoardEntry], datetime]) -> None:
        current = self._pending.get(keys)
        if current is None or current[1] <= board[1]:
            self._pending[keys] = board
        task = asyncio.get_running_loop().create_task(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Write every pending board; keep retrying with backoff until Redis takes them."""
        async with self._lock:
            waits = Backoff(*self._retry)
            while self._pending:
                keys, board = next(iter(self._pending.items()))
                try:
                    await write_board(self.client, keys, *board)
                except Exception as exc:
                    self._failures.log(
                        logging.WARNING,
                        "board mirror write failed; the board stays pending",
                        exc,
                        extra={"pending": len(self._pending)},
                    )
                    await asyncio.sleep(waits.next_delay())
                    continue
                if self._pending.get(keys) is board:
                    del self._pending[keys]
            self._failures.recovered()

    async def close(self) -> None:
        """Stop pending writes (the audit rebuilds whatever they would have written)."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def board_missing(client: redis.Redis, meta_key: str, total: int) -> bool:
    """True when Redis lacks a board Postgres holds, or holds another number of entries."""
    if total == 0:
        return False  # an empty board reads the same with or without keys
    stored = await client.hmget(meta_key, ["as_of", "total"])
    if stored[0] is None:
        return True
    return bool(BoardMeta.from_values(stored).total != total)

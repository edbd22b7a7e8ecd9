"""The board kernel shared by prediction leaderboards and activity boards (SPEC §7.2-7.3).

One sequence for every board: take the board's lock (`repository.lock_board`),
rank (each kind's pure `domain`), store the ranks, mirror the board to Redis
(`write_board`) and announce who moved (`announce_rank_changes`, the diff of
`domain.rank_changes` as `leaderboard.rank_changed` events in the outbox).

The Redis mirror is read by the gateway (SPEC §6).

Prediction leaderboards and activity boards share one layout: three keys per
board (key formats in `podium_contracts.redis_keys`, value shapes in
`podium_contracts.read_models`), a sorted set user id -> rank,
a hash user id -> entry JSON with the shared entry shape, and a meta hash with
`as_of` and `total`. A board is rewritten whole in one MULTI/EXEC, so a reader
never sees half of an update.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import redis.asyncio as redis
from podium_contracts.events import RankChanged, RankChangedData
from podium_contracts.read_models import BoardEntry, BoardMeta
from podium_contracts.redis_keys import Period, Split
from podium_runtime.outbox import Outbox, new_event
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.domain import RankedLine, rank_changes

#: The producer name of the events competitions emits.
PRODUCER = "competitions"


async def write_board(
    client: redis.Redis,
    keys: tuple[str, str, str],
    entries: Sequence[BoardEntry],
    as_of: datetime,
) -> None:
    """Replace one board, given as its (ranks, entries, meta) keys, atomically."""
    ranks_key, entries_key, meta_key = keys
    async with client.pipeline(transaction=True) as pipe:
        pipe.delete(ranks_key, entries_key)
        if entries:
            pipe.zadd(ranks_key, {str(e.user_id): e.rank for e in entries})
            pipe.hset(entries_key, mapping={str(e.user_id): e.to_json() for e in entries})
        meta = BoardMeta(as_of=as_of, total=len(entries)).to_hash()
        pipe.hset(meta_key, mapping={field: value for field, value in meta.items()})
        await pipe.execute()


async def announce_rank_changes(
    session: AsyncSession,
    outbox: Outbox | None,
    competition_id: uuid.UUID,
    before: Mapping[uuid.UUID, int],
    after: Iterable[RankedLine],
    *,
    split: Split = "public",
    period: Period = "all",
) -> None:
    """Stage one `leaderboard.rank_changed` per participant whose rank moved (none on rebuild)."""
    if outbox is None:
        return
    events = [
        new_event(
            RankChanged,
            PRODUCER,
            RankChangedData(
                competition_id=competition_id,
                user_id=change.user_id,
                split=split,
                period=period,
                old_rank=change.old_rank,
                new_rank=change.new_rank,
                score=change.score,
            ),
        )
        for change in rank_changes(before, after)
    ]
    if events:
        await outbox.add(session, *events)

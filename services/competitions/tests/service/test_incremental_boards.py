"""Incremental boards (ADR 0044): each score event places one line, the result equals a rebuild.

A random stream of scores, worse scores, ties and invalidations goes through the
use cases on real Postgres. After every event the stored board must equal the one
`rank_board` ranks from scratch, and the `leaderboard.rank_changed` events of that
event must be exactly the moves between the two rebuilt boards. The mirror's deltas
are then applied to a real Redis, which must hold the rebuilt board too.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import competitions_factories as factories
import pytest
import redis.asyncio as redis
from podium_competitions import boards
from podium_competitions.boards import (
    BoardDelta,
    BoardKeys,
    BoardWriter,
    MirrorLine,
    apply_delta,
    boards_stale,
    write_board,
)
from podium_competitions.domain import rank_changes
from podium_competitions.leaderboard import repository, service
from podium_competitions.leaderboard.domain import Entry, Split, rank_board
from podium_competitions.leaderboard.mirror import LeaderboardMirror, board_keys, mirrored_lines
from podium_competitions.leaderboard.models import leaderboard_entries
from podium_competitions.models import metadata
from podium_competitions.teams.domain import final_candidates
from podium_contracts.events import ScoredData, SubmissionInvalidatedData
from podium_contracts.read_models import BoardEntry, BoardMeta
from podium_contracts.redis_keys import board_changes_channel
from podium_runtime.outbox import messaging_tables
from podium_runtime.script_line import ScriptLine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

OUTBOX = messaging_tables(metadata).outbox


#: A recorded write: the board's keys, and its lines with their version, or a delta.
Write = tuple[BoardKeys, list[MirrorLine] | BoardDelta, datetime | None]


class RecordingWriter(BoardWriter):
    """Keeps what would go to Redis after commit (this tier's commits are savepoints).

    The real `LeaderboardMirror` runs on it, so the lines recorded are the mirror's own.
    """

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self.writes: list[Write] = []

    def stage(
        self,
        session: AsyncSession,
        keys: BoardKeys,
        lines: Sequence[MirrorLine],
        as_of: datetime,
    ) -> None:
        self.writes.append((keys, list(lines), as_of))

    def stage_delta(self, session: AsyncSession, keys: BoardKeys, delta: BoardDelta) -> None:
        self.writes.append((keys, delta, None))

    async def replay(self, writes: Sequence[Write] | None = None) -> None:
        """Apply the recorded writes (or `writes`) to Redis in commit order; each must land."""
        for keys, write, as_of in self.writes if writes is None else writes:
            if isinstance(write, BoardDelta):
                assert await apply_delta(self.client, keys, write) == "applied"
            else:
                assert as_of is not None
                assert await write_board(self.client, keys, write, as_of)


async def _rebuilt(session: AsyncSession, competition_id: uuid.UUID) -> dict[Split, list[Entry]]:
    """Rank both boards from scratch, as `recompute_board` does (no teams here)."""
    submissions = await repository.scored_submissions(session, competition_id)
    _, limit, _ = await repository.board_settings(session, competition_id)
    eligible = final_candidates(submissions, {}, limit)
    return {
        "public": rank_board(submissions, "public"),
        "private": rank_board(submissions, "private", eligible=eligible),
    }


async def _stored(session: AsyncSession, competition_id: uuid.UUID, split: Split) -> list[tuple]:
    t = leaderboard_entries
    rows = await session.execute(
        select(
            t.c.user_id,
            t.c.rank,
            t.c.score,
            t.c.submission_id,
            t.c.submissions,
            t.c.last_submission_at,
        )
        .where(t.c.competition_id == competition_id, t.c.split == split)
        .order_by(t.c.rank)
    )
    return [tuple(row) for row in rows]


def _lines(entries: list[Entry]) -> list[tuple]:
    return [
        (e.user_id, e.rank, e.score, e.submission_id, e.submissions, e.last_submission_at)
        for e in entries
    ]


async def _announced_since(session: AsyncSession, seq: int) -> tuple[set[tuple], int]:
    events, seq = await factories.announced_since(session, seq)
    # The private board is secret until ends_at.
    assert all(data["split"] == "public" for data in events)
    return {(uuid.UUID(d["user_id"]), d["old_rank"], d["new_rank"]) for d in events}, seq


async def test_every_event_equals_a_rebuild_and_announces_exactly_who_moved(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    owner_id = competition.owner_id
    writer = RecordingWriter(redis_client)
    outbox, mirror = factories.outbox(), LeaderboardMirror(writer)
    rng = random.Random(14)
    people = [uuid.uuid4() for _ in range(40)] + [owner_id]
    submitted: list[ScoredData] = []
    start = datetime.now(UTC) - timedelta(minutes=30)
    seq = 0
    for step in range(260):
        before = await _rebuilt(session, competition.id)
        if submitted and rng.random() < 0.12:
            gone = submitted.pop(rng.randrange(len(submitted)))
            await service.record_invalidated(
                session,
                outbox,
                mirror,
                SubmissionInvalidatedData(
                    submission_id=gone.submission_id,
                    competition_id=competition.id,
                    user_id=gone.user_id,
                    invalidated_by=owner_id,
                ),
            )
        else:
            # Rounded scores make ties; some files share an instant (the id decides).
            at = start + timedelta(seconds=step // 3)
            public = round(rng.random(), 1)
            data = ScoredData(
                submission_id=uuid.uuid4(),
                competition_id=competition.id,
                user_id=rng.choice(people),
                metric="auc_roc",
                higher_is_better=True,
                public_score=public,
                private_score=round(rng.random(), 1),
                submitted_at=at,
                scored_at=at,
            )
            submitted.append(data)
            await service.record_scored(session, outbox, mirror, data)
        after = await _rebuilt(session, competition.id)
        for split in ("public", "private"):
            assert await _stored(session, competition.id, split) == _lines(after[split]), step
        expected = {
            (c.user_id, c.old_rank, c.new_rank)
            for c in rank_changes({e.user_id: e.rank for e in before["public"]}, after["public"])
            if c.user_id != owner_id  # a sponsor's baseline tells nobody
        }
        announced, seq = await _announced_since(session, seq)
        assert announced == expected, step

    # The mirror's writes, applied in commit order to Redis, give the rebuilt board.
    final = await _rebuilt(session, competition.id)
    await writer.replay()
    for split in ("public", "private"):
        board = await factories.mirrored_board(redis_client, board_keys(competition.id, split))
        expected_lines = mirrored_lines(final[split], {}, {}, owner_id)
        assert board == [line.entry for line in expected_lines]


@pytest.mark.parametrize("on_line", [False, True], ids=["pipeline", "script line"])
async def test_a_delta_on_another_version_is_not_applied(
    redis_client: redis.Redis, board_line: ScriptLine, on_line: bool
) -> None:
    line_or_none = board_line if on_line else None
    keys = board_keys(uuid.uuid4(), "public")
    now = datetime.now(UTC)
    line = BoardEntry(
        rank=1,
        user_id=uuid.uuid4(),
        display_name=None,
        score=0.5,
        submissions=1,
        last_submission_at=now,
    )
    assert await write_board(redis_client, keys, [MirrorLine.by_rank(line)], now)
    early = BoardDelta(base=now - timedelta(seconds=1), as_of=now + timedelta(seconds=1), total=1)
    assert await apply_delta(redis_client, keys, early, line_or_none) == "early"
    stale = BoardDelta(base=None, as_of=now - timedelta(seconds=2), total=0)
    assert await apply_delta(redis_client, keys, stale, line_or_none) == "stale"
    assert await redis_client.zcard(keys[0]) == 1


async def _board(client: redis.Redis, keys: BoardKeys) -> tuple[list, dict, dict]:
    """A board's sorted set, entries and meta as Redis holds them."""
    ranks = await client.zrange(keys[0], 0, -1, withscores=True)
    entries = await client.hgetall(keys[1])
    meta = await client.hgetall(keys[2])
    return ranks, entries, meta


async def test_deltas_on_the_script_line_write_what_the_pipeline_writes(
    redis_client: redis.Redis, board_line: ScriptLine
) -> None:
    now = datetime.now(UTC)
    staying, leaving, arriving = (uuid.uuid4() for _ in range(3))
    entries = [
        Entry(user_id, rank, 0.9 - rank / 10, uuid.uuid4(), 1, now, 0.9 - rank / 10, now)
        for rank, user_id in enumerate((staying, leaving), start=1)
    ]
    arrival = Entry(arriving, 1, 0.95, uuid.uuid4(), 2, now, 0.95, now)
    delta = BoardDelta(
        base=now,
        as_of=now + timedelta(seconds=1),
        total=2,
        removed=[leaving],
        placed=mirrored_lines([arrival], {arriving: "Ada"}, {}, None),
    )
    boards = []
    for line_or_none in (None, board_line):
        keys = board_keys(uuid.uuid4(), "public")
        assert await write_board(redis_client, keys, mirrored_lines(entries, {}, {}, None), now)
        assert await apply_delta(redis_client, keys, delta, line_or_none) == "applied"
        boards.append(await _board(redis_client, keys))
    assert boards[0] == boards[1]
    ranks, _, meta = boards[1]
    assert len(ranks) == 2 and meta[b"total"] == b"2"


async def test_the_script_line_loads_its_script_again_after_redis_lost_it(
    redis_client: redis.Redis, board_line: ScriptLine
) -> None:
    keys = board_keys(uuid.uuid4(), "public")
    now = datetime.now(UTC)
    first = BoardDelta(base=None, as_of=now, total=0)
    assert await apply_delta(redis_client, keys, first, board_line) == "applied"
    await redis_client.script_flush()
    second = BoardDelta(base=now, as_of=now + timedelta(seconds=1), total=0)
    # The line's next connection loads the script again; the delta is applied once.
    assert await apply_delta(redis_client, keys, second, board_line) == "applied"


@pytest.mark.parametrize("lines", [0, 3, 10])
async def test_a_board_larger_than_a_chunk_is_staged_then_swapped_in_whole(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, lines: int
) -> None:
    monkeypatch.setattr(boards, "WRITE_CHUNK", 3)  # 10 lines: four chunks, then the swap
    keys = board_keys(uuid.uuid4(), "public")
    now = datetime.now(UTC)
    old = [_line(rank, now) for rank in range(1, 6)]
    assert await write_board(redis_client, keys, [MirrorLine.by_rank(e) for e in old], now)
    new = [_line(rank, now) for rank in range(1, lines + 1)]
    later = now + timedelta(seconds=1)
    assert await write_board(redis_client, keys, [MirrorLine.by_rank(e) for e in new], later)
    assert await factories.mirrored_board(redis_client, keys) == new
    assert await redis_client.ttl(keys[0]) == (-1 if new else -2)  # kept for good, or gone
    # An older version is refused after its chunks were staged, and leaves nothing behind.
    assert not await write_board(redis_client, keys, [MirrorLine.by_rank(e) for e in old], now)
    assert await factories.mirrored_board(redis_client, keys) == new
    assert await redis_client.keys(f"{keys[0]}:staging:*") == []
    assert await redis_client.keys(f"{keys[1]}:staging:*") == []


def _line(rank: int, at: datetime) -> BoardEntry:
    return BoardEntry(
        rank=rank,
        user_id=uuid.uuid4(),
        display_name=f"user {rank}",
        score=1 - rank / 100,
        submissions=1,
        last_submission_at=at,
    )


async def test_the_writer_drops_a_board_whose_base_never_comes(redis_client: redis.Redis) -> None:
    keys = board_keys(uuid.uuid4(), "public")
    now = datetime.now(UTC)
    await redis_client.hset(keys[2], mapping={"as_of": now.isoformat(), "total": "3"})
    writer = BoardWriter(redis_client, retry_initial=0.001, retry_cap=0.001)
    writer._enqueue_delta(keys, BoardDelta(base=None, as_of=now + timedelta(seconds=1), total=1))
    await writer.flush()
    # The meta is gone, so the audit (`boards_missing`) rebuilds the board from Postgres.
    assert await redis_client.exists(keys[2]) == 0
    assert writer.pending == 0


async def test_a_burst_of_scores_in_one_unit_of_work_announces_the_net_moves(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    outbox, mirror = factories.outbox(), LeaderboardMirror(RecordingWriter(redis_client))
    rng = random.Random(3)
    people = [uuid.uuid4() for _ in range(30)]
    start = datetime.now(UTC) - timedelta(minutes=30)
    seq = 0
    for burst in range(12):
        before = await _rebuilt(session, competition.id)
        scores = []
        for i in range(rng.randint(1, 12)):
            at = start + timedelta(seconds=burst * 20 + i)
            scores.append(
                ScoredData(
                    submission_id=uuid.uuid4(),
                    competition_id=competition.id,
                    user_id=rng.choice(people),
                    metric="auc_roc",
                    higher_is_better=True,
                    public_score=round(rng.random(), 2),
                    private_score=round(rng.random(), 2),
                    submitted_at=at,
                    scored_at=at,
                )
            )
        await service.record_scores(session, outbox, mirror, scores)
        after = await _rebuilt(session, competition.id)
        for split in ("public", "private"):
            assert await _stored(session, competition.id, split) == _lines(after[split]), burst
        expected = {
            (c.user_id, c.old_rank, c.new_rank)
            for c in rank_changes({e.user_id: e.rank for e in before["public"]}, after["public"])
        }
        announced, seq = await _announced_since(session, seq)
        assert announced == expected, burst


async def test_the_writer_announces_each_version_redis_holds(redis_client: redis.Redis) -> None:
    keys = board_keys(uuid.uuid4(), "public")
    now = datetime.now(UTC)
    line = BoardEntry(
        rank=1,
        user_id=uuid.uuid4(),
        display_name=None,
        score=0.5,
        submissions=1,
        last_submission_at=now,
    )
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(board_changes_channel(keys[2]))
    writer = BoardWriter(redis_client)
    try:
        writer._enqueue(keys, ([MirrorLine.by_rank(line)], now))
        await writer.flush()
        later = now + timedelta(seconds=1)
        writer._enqueue_delta(keys, BoardDelta(base=now, as_of=later, total=1))
        # A delta for an older version is dropped, so nothing is announced for it.
        stale = BoardDelta(base=None, as_of=now - timedelta(seconds=1), total=0)
        writer._enqueue_delta(keys, stale)
        await writer.flush()
        told: list[str] = []
        # The first read may be the subscription's confirmation; a quiet second ends it.
        quiet = 0
        while quiet < 2:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is None:
                quiet += 1
                continue
            quiet = 0
            told.append(message["data"].decode())
    finally:
        await pubsub.aclose()
    assert told == [now.isoformat(), later.isoformat()]


async def test_the_audit_tells_missing_and_miscounted_boards_in_one_round_trip(
    redis_client: redis.Redis,
) -> None:
    now = datetime.now(UTC)
    same, other, gone, empty, older = (board_keys(uuid.uuid4(), "public")[2] for _ in range(5))
    for key, total, at in ((same, 3, now), (other, 2, now), (older, 3, now - timedelta(1))):
        await redis_client.hset(key, mapping={"as_of": at.isoformat(), "total": str(total)})
    held = BoardMeta(as_of=now, total=3)
    boards = [(same, held), (other, held), (gone, held), (empty, BoardMeta()), (older, held)]
    # An empty board in Postgres needs no keys in Redis; by its count alone, a board one
    # write behind reads as it should.
    assert await boards_stale(redis_client, boards) == [False, True, True, False, False]
    assert await boards_stale(redis_client, boards, versions=True) == [
        False,
        True,
        True,
        False,
        True,
    ]


async def test_a_board_whose_last_write_never_reached_redis_is_found_by_its_version(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    writer = RecordingWriter(redis_client)
    mirror = LeaderboardMirror(writer)
    user = uuid.uuid4()
    await service.record_scores(
        session, factories.outbox(), mirror, [factories.scored(competition.id, user, 0.5)]
    )
    await service.recompute_board(session, None, mirror, competition.id)
    for keys, lines, as_of in writer.writes[-2:]:  # the two boards as the writer writes them
        assert isinstance(lines, list) and as_of is not None
        assert await write_board(redis_client, keys, lines, as_of)
    assert competition.id not in await service.boards_to_repair(session, mirror, versions=True)
    # A better score changes the line, not the count: its write is lost (a crash after commit).
    await service.record_scores(
        session, factories.outbox(), mirror, [factories.scored(competition.id, user, 0.9)]
    )
    assert competition.id not in await service.boards_to_repair(session, mirror)
    assert competition.id in await service.boards_to_repair(session, mirror, versions=True)


async def test_the_audit_finds_every_competition_with_submissions(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    mirror = LeaderboardMirror(RecordingWriter(redis_client))
    created = [(await factories.competition(session)).id for _ in range(3)]
    for n, competition_id in enumerate(created):
        scores = [factories.scored(competition_id, uuid.uuid4(), 0.5) for _ in range(n + 1)]
        await service.record_scores(session, factories.outbox(), mirror, scores)
    found = await repository.boards_of(session)
    assert set(created) <= set(found) and len(found) == len(set(found))

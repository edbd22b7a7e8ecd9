"""Use cases of the leaderboard projection; they flush, never commit (STYLE 2-3, SPEC §7.2)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import redis.asyncio as redis
from podium_contracts.events import (
    RejectedData,
    ScoredData,
    SubmissionInvalidatedData,
)
from podium_contracts.read_models import BoardMeta
from podium_contracts.redis_keys import (
    DAILY_SUBMISSIONS_TTL_SECONDS,
    daily_rejections_key,
    daily_submissions_key,
    leaderboard_meta_key,
    utc_day,
)
from podium_runtime.outbox import Outbox
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.boards import (
    BoardDelta,
    announce_changes,
    announce_rank_changes,
    boards_stale,
)
from podium_competitions.domain import RankChange, fold_changes
from podium_competitions.leaderboard import repository
from podium_competitions.leaderboard.domain import SPLITS, Entry, Split, rank_board
from podium_competitions.leaderboard.mirror import LeaderboardMirror, mirrored_lines
from podium_competitions.leaderboard.repository import BoardState
from podium_competitions.repository import display_names
from podium_competitions.teams import repository as teams_repository
from podium_competitions.teams.domain import final_candidates

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def announced(split: Split, ends_at: datetime | None, now: datetime) -> bool:
    """Whether a board's rank changes are announced: the public board's always, the
    private board's once `ends_at` has passed and it is public knowledge (SPEC §7.2)."""
    return split == "public" or (ends_at is not None and now >= ends_at)


async def recompute_board(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
) -> None:
    """Rank both boards again, store them, mirror them and announce rank changes.

    The Redis mirror is written after the transaction commits (ADR 0031): a Redis
    failure never rolls the board back. Private-board rank changes are announced
    only after `ends_at`, when that board is public knowledge (SPEC §7.2). A team has
    one line (SPEC §10.2) and the private board counts only final submissions.
    """
    await repository.lock_board(session, competition_id)
    # A team's members share one line (SPEC §10.2): submissions rank under the team's id.
    team_of = await teams_repository.entrants(session, competition_id)
    submissions = [
        replace(s, user_id=team_of.get(s.user_id, s.user_id))
        for s in await repository.scored_submissions(session, competition_id)
    ]
    ends_at, final_limit, owner_id = await repository.board_settings(session, competition_id)
    chosen = await teams_repository.selections(session, competition_id)
    eligible = final_candidates(submissions, chosen, final_limit)
    now = _now()
    boards: dict[Split, list[Entry]] = {
        "public": rank_board(submissions, "public"),
        "private": rank_board(submissions, "private", eligible=eligible),
    }
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for user_id, team_id in sorted(team_of.items()):
        members.setdefault(team_id, []).append(user_id)
    entrant_ids = {e.user_id for e in boards["public"]}
    names = await display_names(session, entrant_ids - members.keys())
    names.update(await teams_repository.team_names(session, entrant_ids & members.keys()))
    # Every member of a team hears of the team's move; the sponsor's baseline tells nobody.
    recipients: dict[uuid.UUID, list[uuid.UUID]] = dict(members)
    if owner_id is not None:
        recipients[owner_id] = []
    for split, entries in boards.items():
        before = await repository.current_ranks(session, competition_id, split)
        await repository.replace_board(session, competition_id, split, entries)
        await repository.set_board_version(session, competition_id, split, now)
        mirror.stage(session, competition_id, split, entries, names, now, members, owner_id)
        if not announced(split, ends_at, now):
            continue
        await announce_rank_changes(
            session, outbox, competition_id, before, entries, split=split, recipients=recipients
        )


async def record_scored(
    session: AsyncSession, outbox: Outbox, mirror: LeaderboardMirror, data: ScoredData
) -> None:
    """Put a scored (or rescored) submission on the boards."""
    await record_scores(session, outbox, mirror, [data])


async def record_scores(
    session: AsyncSession, outbox: Outbox, mirror: LeaderboardMirror, scores: Sequence[ScoredData]
) -> None:
    """Put a poll's scored (or rescored) submissions on the boards in one unit of work.

    Each entrant is placed once, after all their scores are stored, so a burst of
    scores costs one placement per entrant and one commit; `rank_changed` reports the
    moves between the board before and after the unit of work (ADR 0044).
    """
    # One row per submission: of two scores of one submission in a poll, the newer counts.
    newest: dict[uuid.UUID, ScoredData] = {}
    for data in scores:
        held = newest.get(data.submission_id)
        if held is None or held.scored_at <= data.scored_at:
            newest[data.submission_id] = data
    # The boards' locks (in one order, so two consumers holding different polls cannot
    # deadlock) and the scores, in one statement.
    await repository.lock_and_upsert_scored(
        session,
        [
            {
                "submission_id": data.submission_id,
                "competition_id": data.competition_id,
                "user_id": data.user_id,
                "higher_is_better": data.higher_is_better,
                "public_score": data.public_score,
                "private_score": data.private_score,
                "submitted_at": data.submitted_at,
                "scored_at": data.scored_at,
            }
            for data in newest.values()
        ],
    )
    moves = Moves()
    asked = dict.fromkeys((d.competition_id, d.user_id) for d in scores)
    await _place_all(session, outbox, mirror, list(asked), moves)
    await moves.announce(session, outbox)


async def _place_all(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    asked: Sequence[tuple[uuid.UUID, uuid.UUID]],
    moves: Moves,
) -> None:
    """Place the lines of (competition, participant) pairs in order, their boards locked.

    Every context is read in one query (ADR 0098), and each placement hands the states
    of the boards it changed to the next placement on them. A board stored before
    versions existed is ranked whole once, which places all its entrants.
    """
    contexts = await repository.board_contexts(session, asked)
    changed: dict[uuid.UUID, dict[Split, BoardState]] = {}
    ranked_whole: set[uuid.UUID] = set()
    for (competition_id, user_id), context in zip(asked, contexts, strict=True):
        if competition_id in ranked_whole:
            continue
        if _unversioned(context):
            await recompute_board(session, outbox, mirror, competition_id)
            ranked_whole.add(competition_id)
            continue
        states = changed.setdefault(competition_id, {})
        context = replace(context, states={**context.states, **states})
        placed = await _place(session, outbox, mirror, competition_id, user_id, context, moves)
        states.update(placed)


async def record_invalidated(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    data: SubmissionInvalidatedData,
) -> None:
    """Take an invalidated submission off the boards; the participant's next best counts."""
    await repository.lock_board(session, data.competition_id)
    await repository.mark_invalidated(
        session, data.submission_id, data.competition_id, data.user_id, _now()
    )
    await place_entrant(session, outbox, mirror, data.competition_id, data.user_id, locked=True)


async def place_entrant(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    moves: Moves | None = None,
    *,
    locked: bool = False,
    handed: Handed | None = None,
) -> None:
    """Place a participant's (or their team's) line again on both boards (ADR 0044).

    Only that line and the lines it passed change: the new place is one descent of
    the order index, the lines passed shift by one, and each of them is announced.
    The cost is O(log n) plus the lines that really moved, whatever the board's size;
    the result is the same board `recompute_board` ranks from scratch. With `moves`,
    the rank changes are gathered there to be announced, netted, by the caller;
    `locked` says the caller already holds the board's lock; `handed`, lines another
    entrant just handed to this one (`regroup`). Everything the placement
    reads comes in one query; both boards are placed and written in a second, which
    also works out the new places and the runs passed (ADR 0064, 0076, 0083).
    """
    if not locked:
        await repository.lock_board(session, competition_id)
    context = await repository.board_context(session, competition_id, user_id)
    if _unversioned(context):
        await recompute_board(session, outbox, mirror, competition_id)
        return
    await _place(session, outbox, mirror, competition_id, user_id, context, moves, handed)


async def _place(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    context: repository.BoardContext,
    moves: Moves | None = None,
    handed: Handed | None = None,
) -> dict[Split, BoardState]:
    """Rank a participant's (or their team's) lines from `context` and put them on the
    boards; return the new state of each board that changed."""
    team_id = context.team_id
    entrant = team_id or user_id
    submissions = [replace(s, user_id=entrant) for s in context.submissions]
    eligible = final_candidates(submissions, {entrant: context.selections}, context.final_limit)
    lines: dict[Split, Entry | None] = {}
    for split in SPLITS:
        ranked = rank_board(submissions, split, eligible if split == "private" else None)
        lines[split] = ranked[0] if ranked else None
    return await _put_lines(
        session,
        outbox,
        mirror,
        competition_id,
        entrant,
        lines,
        context,
        names={entrant: context.name} if context.name is not None else {},
        teams={entrant: context.members} if team_id else {},
        moves=moves,
        handed=handed,
    )


async def regroup(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
    member: uuid.UUID,
    gone: uuid.UUID,
) -> None:
    """Take `gone`'s line off both boards and place again the line of `member`'s entrant.

    After a team change: a participant who founded or joined a team (`gone` is their
    own id, `member` too), or a team merged into another (`gone` is the merged team,
    `member` one of its people). Where the team has no line yet, it takes over
    `gone`'s line where it stands (a founder's line becomes the team's and nobody
    moves); elsewhere `gone`'s line is taken off and the team's placed again. O(log n)
    plus the lines that moved, as for a score; the moves are announced netted.
    """
    await repository.lock_board(session, competition_id)
    context = await repository.board_context(session, competition_id, member)
    if _unversioned(context):
        await recompute_board(session, outbox, mirror, competition_id)
        return
    entrant = context.team_id or member
    handed = Handed(gone, await repository.hand_lines(session, competition_id, gone, entrant))
    moves = Moves()
    off: dict[Split, Entry | None] = dict.fromkeys(SPLITS)
    await _put_lines(session, outbox, mirror, competition_id, gone, off, context, moves=moves)
    await place_entrant(
        session, outbox, mirror, competition_id, member, moves, locked=True, handed=handed
    )
    await moves.announce(session, outbox)


@dataclass(frozen=True)
class Handed:
    """The lines `gone` handed to a team (`repository.hand_lines`): per board, rank and score."""

    gone: uuid.UUID
    lines: dict[Split, tuple[int, float | None]]


async def place_again(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
    people: Sequence[uuid.UUID],
) -> None:
    """Place the lines of several people's entrants again, in one unit of work.

    For a participant taken out of a competition and the team they leave. Each
    placement is O(log n) plus the lines that moved, and the moves are announced
    netted, as for a burst of scores.
    """
    await repository.lock_board(session, competition_id)
    moves = Moves()
    await _place_all(session, outbox, mirror, [(competition_id, p) for p in people], moves)
    await moves.announce(session, outbox)


async def write_lines_again(
    session: AsyncSession, mirror: LeaderboardMirror, competition_id: uuid.UUID, entrant: uuid.UUID
) -> None:
    """Write an entrant's lines to Redis again after their name changed (an erasure).

    Ranks and scores stay, so no one is told. Each board that holds the line gets a
    new version and a delta that puts the line back under its member with the new name.
    """
    await repository.lock_board(session, competition_id)
    context = await repository.board_context(session, competition_id, entrant)
    if _unversioned(context):
        await recompute_board(session, None, mirror, competition_id)
        return
    names = {entrant: context.name} if context.name is not None else {}
    now = _now()
    for split, line in (await repository.lines_of(session, competition_id, entrant)).items():
        await repository.set_board_version(session, competition_id, split, now)
        base, total = context.states[split]
        placed = mirrored_lines([line], names, {}, context.owner_id)
        delta = BoardDelta(base, now, total, removed=[entrant], placed=placed)
        mirror.stage_delta(session, competition_id, split, delta)


def _unversioned(context: repository.BoardContext) -> bool:
    """Whether a board was stored before versions existed: it is ranked whole once."""
    return any(base is None and total > 0 for base, total in context.states.values())


async def _put_lines(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: LeaderboardMirror,
    competition_id: uuid.UUID,
    entrant: uuid.UUID,
    lines: dict[Split, Entry | None],
    context: repository.BoardContext,
    *,
    names: dict[uuid.UUID, str] | None = None,
    teams: dict[uuid.UUID, list[uuid.UUID]] | None = None,
    moves: Moves | None = None,
    handed: Handed | None = None,
) -> dict[Split, BoardState]:
    """Store an entrant's new lines (None: off the board), stage their Redis deltas and
    gather the rank changes (announced here unless the caller gathers them in `moves`).
    Return the new state (version, line count) of each board that changed.

    On a board where `handed` gave the entrant another's line, that line leaves Redis in
    the same delta, and the moves are the other's line leaving and the entrant's arriving.
    """
    states, owner_id, ends_at = context.states, context.owner_id, context.ends_at
    teams = teams or {}
    now = _now()
    totals = {split: total for split, (_, total) in states.items()}
    told = [split for split in SPLITS if announced(split, ends_at, now)]
    placed = await repository.place_lines(
        session, competition_id, entrant, lines, totals, now, told
    )
    if not placed.boards:
        return {}
    gathered = moves if moves is not None else Moves()
    gathered.teams.update(teams)
    gathered.teams.update(placed.teams)
    for split, board in placed.boards.items():
        line = lines[split]
        put = [replace(line, rank=board.rank)] if line and board.rank is not None else []
        handover = handed.lines.get(split) if handed is not None else None
        removed = [entrant] if line is None else []
        old_rank = board.old_rank
        if handed is not None and handover is not None:
            removed.append(handed.gone)
            old_rank = None  # the line was the other's until now
        mirror.stage_delta(
            session,
            competition_id,
            split,
            BoardDelta(
                states[split][0],
                now,
                board.total,
                removed=removed,
                placed=mirrored_lines(put, names or {}, teams, owner_id),
            ),
        )
        if split not in told:
            continue
        changes: list[RankChange] = []
        if handed is not None and handover is not None:
            changes.append(RankChange(handed.gone, handover[0], None, None))
        if board.rank != old_rank:
            changes.append(RankChange(entrant, old_rank, board.rank, line.score if line else None))
        if board.shifted is not None:
            changes += [
                RankChange(line_id, rank - board.by, rank, score)
                for line_id, rank, score in zip(
                    board.shifted.user_ids, board.shifted.ranks, board.shifted.scores, strict=True
                )
            ]
        gathered.add(competition_id, split, owner_id, changes)
    if moves is None:
        await gathered.announce(session, outbox)
    return {split: (now, board.total) for split, board in placed.boards.items()}


class Moves:
    """The rank changes of one unit of work, netted per line (first old, last new rank).

    `teams` holds the members of every team line that moved (read with the moves),
    so announcing them needs no further query.
    """

    def __init__(self) -> None:
        self.boards: dict[tuple[uuid.UUID, Split], dict[uuid.UUID, RankChange]] = {}
        self.owners: dict[uuid.UUID, uuid.UUID | None] = {}
        self.teams: dict[uuid.UUID, list[uuid.UUID]] = {}

    def add(
        self,
        competition_id: uuid.UUID,
        split: Split,
        owner_id: uuid.UUID | None,
        changes: list[RankChange],
    ) -> None:
        """Fold one placement's changes into the board's net moves."""
        self.owners[competition_id] = owner_id
        fold_changes(self.boards.setdefault((competition_id, split), {}), changes)

    async def announce(self, session: AsyncSession, outbox: Outbox | None) -> None:
        """Stage a `rank_changed` per line whose rank differs at the end of the unit of work.

        A team's members hear of its line; the sponsor's baseline tells nobody.
        """
        for (competition_id, split), lines in self.boards.items():
            net = [c for c in lines.values() if c.old_rank != c.new_rank]
            if not net:
                continue
            owner_id = self.owners[competition_id]
            recipients: dict[uuid.UUID, list[uuid.UUID]] = {
                c.user_id: self.teams[c.user_id] for c in net if c.user_id in self.teams
            }
            if owner_id is not None:
                recipients[owner_id] = []
            await announce_changes(
                session, outbox, competition_id, net, split=split, recipients=recipients
            )


async def give_back_daily_slot(
    session: AsyncSession, client: redis.Redis, data: RejectedData
) -> None:
    """Move a rejected submission from the daily slots to the day's rejections (SPEC §7.1).

    The slot was taken on the author's team (SPEC §10.2) or, solo, on the
    author; it is given back. The rejection is counted on the author, against
    the gateway's separate daily limit of rejected uploads. Repeating it is harmless.
    """
    team_id = await teams_repository.team_of(session, data.competition_id, data.user_id)
    day = utc_day(data.submitted_at)
    member = str(data.submission_id)
    rejections = daily_rejections_key(data.competition_id, data.user_id, day)
    async with client.pipeline(transaction=True) as pipe:
        for entrant in {data.user_id, team_id or data.user_id}:
            pipe.srem(daily_submissions_key(data.competition_id, entrant, day), member)
        pipe.sadd(rejections, member)
        pipe.expire(rejections, DAILY_SUBMISSIONS_TTL_SECONDS)
        await pipe.execute()


async def rebuild(session: AsyncSession, mirror: LeaderboardMirror) -> int:
    """Recompute every board from Postgres and rewrite the Redis mirror; return how many."""
    competition_ids = await repository.boards_of(session)
    for competition_id in competition_ids:
        await recompute_board(session, None, mirror, competition_id)
    return len(competition_ids)


async def boards_to_repair(
    session: AsyncSession, mirror: LeaderboardMirror, *, versions: bool = False
) -> list[uuid.UUID]:
    """Return the competitions whose Redis board is missing or disagrees with Postgres.

    Compares line counts, and with `versions` each board's version too (see
    `boards_stale`): one query and one Redis round trip for every board, whatever their
    sizes (the audit runs this every half minute).
    """
    competition_ids = await repository.boards_of(session)
    if not competition_ids:
        return competition_ids
    states = await repository.board_states(session, competition_ids)
    boards = [(c, split) for c in competition_ids for split in SPLITS]
    stale = await boards_stale(
        mirror.client,
        [
            (leaderboard_meta_key(c, split), BoardMeta(as_of=as_of, total=total))
            for c, split in boards
            for as_of, total in [states.get((c, split), (None, 0))]
        ],
        versions=versions,
    )
    return list(dict.fromkeys(c for (c, _), wrong in zip(boards, stale, strict=True) if wrong))


async def standing(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[float | None, int | None]:
    """Return a participant's best public score and public rank (None, None if unranked)."""
    row = await repository.standing(session, competition_id, user_id)
    return (row.score, row.rank) if row is not None else (None, None)

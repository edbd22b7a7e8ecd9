"""Use cases of activity competitions; they flush, never commit (STYLE 2-3, SPEC §7.3).

Who a statement belongs to: `LearningData.user_id` (ingest sets it for an
`account` on the platform's homePage), else the user whose e-mail is the
actor's `mbox` in the users projection. Anything else earns nothing.

Only statements from LRS clients a competition trusts count for it (ADR 0054):
any client may post statements naming any learner, so trust is what stops a
tool from earning anyone points in any competition.

Voiding (xAPI 2.3.2) takes the statement's points off every board it was on
whose competition trusts the voiding client.
Every change of a participant's points is announced as `points.awarded` or
`points.revoked` (one per competition and statement), which the rewards
service turns into wallet entries.
The room it frees under that day's cap is available to statements recorded
afterwards; statements already recorded keep what they were awarded (no
re-evaluation), so a board never changes for reasons a participant cannot see.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from podium_contracts.actors import mbox_email
from podium_contracts.events import (
    LearningData,
    PointsAwarded,
    PointsData,
    PointsRevoked,
)
from podium_contracts.read_models import BoardMeta
from podium_contracts.redis_keys import Period, activity_board_keys
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from podium_runtime.timezones import local_day
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity import domain, repository
from podium_competitions.activity.mirror import ActivityBoardMirror, mirrored_line
from podium_competitions.boards import (
    PRODUCER,
    BoardDelta,
    announce_rank_changes,
    boards_stale,
    rank_changed_events,
)
from podium_competitions.domain import RankChange, fold_changes
from podium_competitions.repository import display_names

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Participant:
    """Whose statement it is, with what the daily cap and multipliers need."""

    user_id: uuid.UUID
    #: None while identity's `user.registered` has not reached the projection.
    timezone: str | None = None
    tier: str | None = None


async def _participant(session: AsyncSession, data: LearningData) -> Participant | None:
    """Return the statement's actor as a Podium user, or None for strangers (SPEC §7.3)."""
    if data.user_id is not None:
        found = await repository.user_by_id(session, data.user_id)
        if found is None:
            return Participant(data.user_id)
        return Participant(found.user_id, found.timezone, found.tier)
    email = mbox_email(data.actor)
    if email is None:
        return None
    found = await repository.user_by_email(session, email)
    return Participant(found.user_id, found.timezone, found.tier) if found is not None else None


async def record_statements(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: ActivityBoardMirror,
    facts: Sequence[LearningData],
) -> int:
    """Award, or on voiding take back, statements' points in every activity competition
    they count for, in order (SPEC §7.3).

    Consecutive statements of one actor from one client (a batch a learning tool posted,
    which ingest announces as one `learning.statements_recorded`) are awarded together:
    per competition one lock, one read of the ledger, one insert and one placement per
    board day, their rank changes netted (ADR 0095). Returns how many awards (statement
    and competition) changed a board, and how many voidings took points back.
    """
    changed = 0
    run: list[LearningData] = []
    source: tuple[object, ...] = ()
    for data in facts:
        if data.verb == domain.VOIDED_VERB and not data.voided:
            continue  # the voiding statement itself earns nothing
        named = () if data.voided else _source(data)
        if run and named != source:
            changed += await _award(session, outbox, mirror, run)
            run = []
        if data.voided:
            changed += await _take_back(
                session, outbox, mirror, data.statement_id, data.lrs_client_id
            )
        else:
            run.append(data)
            source = named
    if run:
        changed += await _award(session, outbox, mirror, run)
    return changed


def _source(data: LearningData) -> tuple[object, ...]:
    """Who a statement names and which client posted it: statements awarded together share it."""
    return data.user_id, mbox_email(data.actor), data.lrs_client_id


async def _award(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: ActivityBoardMirror,
    run: Sequence[LearningData],
) -> int:
    """Award the points of statements of one actor and client, in order; return how many
    awards changed a board."""
    participant = await _participant(session, run[0])
    if participant is None:
        return 0
    times = [data.timestamp for data in run]
    changed = 0
    for competition in await repository.competitions_counting(
        session, participant.user_id, min(times), max(times), run[0].lrs_client_id
    ):
        rules = domain.Rules.from_json(competition.rules)
        matched = [
            (data, rule)
            for data in run
            if competition.starts_at <= data.timestamp < competition.ends_at
            for rule in [rules.first_match(data.verb, data.activity_id, data.scaled_score)]
            if rule is not None
        ]
        if not matched:
            continue
        await repository.lock_competition(session, competition.id)
        rows = await _new_awards(session, competition, participant, rules, matched)
        changed += await _book_awards(
            session, outbox, mirror, competition.id, participant.user_id, rows
        )
    return changed


async def _new_awards(
    session: AsyncSession,
    competition: AnyRow,
    participant: Participant,
    rules: domain.Rules,
    matched: Sequence[tuple[LearningData, domain.PointRule]],
) -> list[dict[str, Any]]:
    """Return the ledger rows of the matched statements this competition has not awarded
    yet, their points worked out in order under the daily cap (SPEC §7.3).

    The cap's day is the participant's; an unknown time zone falls back to the
    competition's until identity's event arrives. The caller holds the lock.
    """
    cap_days = [
        local_day(data.timestamp, participant.timezone or competition.timezone)
        for data, _ in matched
    ]
    used, held = await repository.ledger_before(
        session,
        competition.id,
        participant.user_id,
        sorted(set(cap_days)),
        [data.statement_id for data, _ in matched],
    )
    multiplier = rules.multiplier(participant.tier)
    rows: list[dict[str, Any]] = []
    for (data, rule), cap_day in zip(matched, cap_days, strict=True):
        if data.statement_id in held:
            continue  # points are awarded once per statement id
        held.add(data.statement_id)
        earned = domain.award(rule, multiplier, used.get(cap_day, 0.0), rules.daily_cap)
        used[cap_day] = used.get(cap_day, 0.0) + earned.points
        rows.append(
            {
                "competition_id": competition.id,
                "statement_id": data.statement_id,
                "user_id": participant.user_id,
                "verb": data.verb,
                "activity_id": data.activity_id,
                "occurred_at": data.timestamp,
                "participant_day": cap_day,
                "board_day": local_day(data.timestamp, competition.timezone),
                "base_points": earned.base,
                "points": earned.points,
            }
        )
    return rows


async def _book_awards(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: ActivityBoardMirror,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    rows: Sequence[dict[str, Any]],
) -> int:
    """Store a participant's new awards, place their line and announce; return how many
    awards earned points.

    One board day at a time: its rows go in, then one placement, which sees the ledger
    as it would after that day's statements alone, so its boards' line counts follow
    exactly. The placements' moves are netted and announced once, with a
    `points.awarded` per award that earned points.
    """
    by_board_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        by_board_day.setdefault(row["board_day"], []).append(row)
    net: dict[uuid.UUID, RankChange] = {}
    points: list[PointsData] = []
    for board_day, day_rows in by_board_day.items():
        await repository.insert_awards(session, day_rows)
        earning = [row for row in day_rows if row["points"] > 0]
        if not earning:
            continue  # an award of no points (the day's cap was reached) is on no board
        moves = await place_participant(
            session, outbox, mirror, competition_id, user_id, board_day, len(earning)
        )
        fold_changes(net, moves)
        points += [
            PointsData(
                user_id=user_id,
                competition_id=competition_id,
                statement_id=row["statement_id"],
                points=row["points"],
                occurred_at=row["occurred_at"],
            )
            for row in earning
        ]
    moved = [change for change in net.values() if change.old_rank != change.new_rank]
    await _announce(session, outbox, competition_id, moved, PointsAwarded, points)
    return len(points)


async def _take_back(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: ActivityBoardMirror,
    statement_id: uuid.UUID,
    lrs_client_id: uuid.UUID | None,
) -> int:
    """Void a statement's points wherever the voiding client is trusted; place the line again."""
    changed = 0
    for competition_id in await repository.competitions_awarding(
        session, statement_id, lrs_client_id
    ):
        await repository.lock_competition(session, competition_id)
        voided = await repository.void_award(session, competition_id, statement_id)
        if voided is None:
            continue  # voided meanwhile by a concurrent delivery
        if voided.points > 0:
            # An award of no points (the day's cap was reached) was on no board.
            moves = await place_participant(
                session, outbox, mirror, competition_id, voided.user_id, voided.board_day, -1
            )
            await _announce(
                session,
                outbox,
                competition_id,
                moves,
                PointsRevoked,
                [
                    PointsData(
                        user_id=voided.user_id,
                        competition_id=competition_id,
                        statement_id=statement_id,
                        points=voided.points,
                        occurred_at=voided.occurred_at,
                    )
                ],
            )
        changed += 1
    return changed


async def _announce(
    session: AsyncSession,
    outbox: Outbox | None,
    competition_id: uuid.UUID,
    moves: Sequence[RankChange],
    event_cls: type[PointsAwarded] | type[PointsRevoked],
    points: Sequence[PointsData],
) -> None:
    """Stage the rank changes on the `all` board, then one `points.awarded` /
    `points.revoked` per change of points, in one outbox insert in the transaction of
    the ledger change."""
    if outbox is not None:
        runs = rank_changed_events(competition_id, moves, period="all")
        await outbox.add(session, *runs, *(new_event(event_cls, PRODUCER, data) for data in points))


async def recompute_boards(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: ActivityBoardMirror,
    competition_id: uuid.UUID,
    board_day: date,
) -> None:
    """Rank the `all` board and the day, week and month boards holding `board_day` again.

    The boards reach Redis after the transaction commits, newest version winning
    (ADR 0031), so a Redis failure never rolls them back. Rank changes are
    announced for the `all` board only (SPEC §7.2-7.3).
    """
    now = _now()
    boards = []
    for period, start in domain.boards_of_day(board_day):
        days = domain.period_days(period, board_day)
        entries = domain.rank_points(await repository.standings(session, competition_id, days))
        boards.append((period, start, entries))
    names = await display_names(
        session, {entry.user_id for _, _, entries in boards for entry in entries}
    )
    for period, start, entries in boards:
        mirror.stage(session, competition_id, period, start, entries, names, now)
        if period == "all":
            await _store_all_board(session, outbox, competition_id, entries)
    await repository.set_board_states(
        session,
        competition_id,
        {
            (period, board_bucket(start)): repository.BoardState(now, len(entries))
            for period, start, entries in boards
        },
    )


def board_bucket(start: date | None) -> str:
    """Return the stored name of a board's period: "all", or its first day."""
    return "all" if start is None else start.isoformat()


async def place_participant(
    session: AsyncSession,
    outbox: Outbox | None,
    mirror: ActivityBoardMirror,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    board_day: date,
    change: int,
) -> list[RankChange]:
    """Place a participant's line again on the four boards holding `board_day` (ADR 0094);
    return the rank changes on the `all` board, for the caller to announce.

    After `change` statements of that day earned points (or, -1, one was voided). The
    participant's totals come from their own ledger rows; on the stored `all` board
    the new place is one descent of its order index and the lines passed shift by
    one, each a rank change to announce as `leaderboard.rank_changed`; every board's Redis mirror
    gets a delta placing or removing the one line. O(log n) plus the lines that moved,
    whatever the board's size, and the same boards `recompute_boards` ranks from
    scratch. A competition whose `all` board has no stored version (stored before
    versions existed, or never) is ranked whole once instead; a day, week or month
    without one is new, and its first delta creates it. The caller holds the
    competition's lock.
    """
    boards = dict(domain.boards_of_day(board_day))
    ids = {period: (period, board_bucket(start)) for period, start in boards.items()}
    states = await repository.board_states(session, competition_id, list(ids.values()))
    if ids["all"] not in states:
        await recompute_boards(session, outbox, mirror, competition_id, board_day)
        return []
    standings = await repository.participant_standings(session, competition_id, user_id, board_day)
    names = await display_names(session, {user_id})
    now = _now()
    changes: list[RankChange] = []
    for period, start in boards.items():
        standing = standings[period]
        # The participant's line ranked alone: its points rounded as on the board.
        line = domain.rank_points([standing])[0] if standing is not None else None
        state = states.get(ids[period])
        if period == "all":
            placed = await repository.place_line(
                session, competition_id, user_id, standing, line.score if line else 0.0
            )
            total = placed.total
            line = replace(line, rank=placed.rank or 0) if line is not None else None
            changes = _moves(user_id, placed, line)
        else:
            # Postgres keeps no ranks of these boards: Redis's positions are theirs.
            line = replace(line, rank=0) if line is not None else None
            total = await _period_total(
                session, competition_id, period, board_day, state, standing, change
            )
        delta = BoardDelta(
            state.as_of if state is not None else None,
            now,
            total,
            removed=[user_id] if line is None else [],
            placed=[mirrored_line(line, names)] if line is not None else [],
        )
        mirror.stage_delta(session, competition_id, period, start, delta)
        states[ids[period]] = repository.BoardState(now, total)
    await repository.set_board_states(session, competition_id, states)
    return changes


async def write_lines_again(
    session: AsyncSession,
    mirror: ActivityBoardMirror,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    days: Sequence[date],
) -> None:
    """Write a participant's lines to Redis again after their name changed (an erasure).

    Points and ranks stay, so nobody is told. Each board of `days` that holds the
    participant gets a new version and a delta putting the line back under its new
    name: O(log n) per board, whatever its size (ADR 0094). Boards without a stored
    version are ranked whole once instead.
    """
    await repository.lock_competition(session, competition_id)
    boards: dict[repository.BoardId, tuple[Period, date | None, date]] = {}
    for day in days:
        for period, start in domain.boards_of_day(day):
            boards.setdefault((period, board_bucket(start)), (period, start, day))
    states = await repository.board_states(session, competition_id, list(boards))
    if len(states) < len(boards):
        for day in days:
            await recompute_boards(session, None, mirror, competition_id, day)
        return
    names = await display_names(session, {user_id})
    standings: dict[date, dict[Period, domain.Standing | None]] = {}
    now = _now()
    for board, (period, start, day) in boards.items():
        if day not in standings:
            standings[day] = await repository.participant_standings(
                session, competition_id, user_id, day
            )
        standing = standings[day][period]
        if standing is None:
            continue
        # The stored JSON leaves the rank out; the line keeps its place.
        line = replace(domain.rank_points([standing])[0], rank=0)
        total = states[board].total
        delta = BoardDelta(states[board].as_of, now, total, placed=[mirrored_line(line, names)])
        mirror.stage_delta(session, competition_id, period, start, delta)
        states[board] = repository.BoardState(now, total)
    await repository.set_board_states(session, competition_id, states)


async def _period_total(
    session: AsyncSession,
    competition_id: uuid.UUID,
    period: Period,
    board_day: date,
    state: repository.BoardState | None,
    standing: domain.Standing | None,
    change: int,
) -> int:
    """Return the line count of a day, week or month board after a participant's change.

    It follows the participant's presence before and after; a board without a stored
    count (a new period) is counted once from the ledger, the participant included.
    """
    if state is None:
        days = domain.period_days(period, board_day)
        assert days is not None  # only the `all` board spans every day
        return await repository.line_count(session, competition_id, days)
    was_on = (standing.statements if standing is not None else 0) - change > 0
    return state.total + (standing is not None) - was_on


def _moves(
    user_id: uuid.UUID, placed: repository.PlacedLine, line: domain.BoardEntry | None
) -> list[RankChange]:
    """Return the rank changes of one placement on the `all` board: the line's, and each
    line it passed."""
    changes = [
        RankChange(shifted_id, rank - placed.by, rank, score)
        for shifted_id, rank, score in placed.shifted
    ]
    if placed.rank != placed.old_rank:
        score = line.score if line is not None else None
        changes.insert(0, RankChange(user_id, placed.old_rank, placed.rank, score))
    return changes


async def _store_all_board(
    session: AsyncSession,
    outbox: Outbox | None,
    competition_id: uuid.UUID,
    entries: list[domain.BoardEntry],
) -> None:
    before = await repository.current_ranks(session, competition_id)
    await repository.replace_board(session, competition_id, entries)
    await announce_rank_changes(session, outbox, competition_id, before, entries)


async def rebuild(session: AsyncSession, mirror: ActivityBoardMirror) -> int:
    """Rewrite every activity board's Redis mirror from the ledger; return how many days."""
    rows = await repository.boards_in_ledger(session)
    for row in rows:
        await repository.lock_competition(session, row.competition_id)
        await recompute_boards(session, None, mirror, row.competition_id, row.board_day)
    return len(rows)


async def standing(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[float | None, int | None]:
    """Return a participant's points and rank on the `all` board (None, None if unranked)."""
    row = await repository.standing(session, competition_id, user_id)
    return (row.score, row.rank) if row is not None else (None, None)


async def boards_to_repair(
    session: AsyncSession, mirror: ActivityBoardMirror, *, versions: bool = False
) -> list[tuple[uuid.UUID, list[date]]]:
    """Return the competitions (with their board days) whose Redis boards need a rebuild.

    A competition qualifies when its `all` board is missing from Redis or holds another
    number of entries than Postgres; with `versions` (the audit's first round), also
    when any of its boards (day, week and month too) holds another version than the one
    stored (a write lost between a commit and Redis), or has none stored (ADR 0094).
    One query each and one Redis round trip, whatever the boards' sizes.
    """
    days: dict[uuid.UUID, list[date]] = {}
    for row in await repository.boards_in_ledger(session):
        days.setdefault(row.competition_id, []).append(row.board_day)
    if not days:
        return []
    checked: list[tuple[uuid.UUID, str, BoardMeta]] = []
    unversioned: set[uuid.UUID] = set()
    if not versions:
        sizes = await repository.board_sizes(session, list(days))
        checked = [
            (c, activity_board_keys(c, "all", None)[2], BoardMeta(total=sizes.get(c, 0)))
            for c in days
        ]
    else:
        states = await repository.board_states_of(session, list(days))
        boards = {
            (c, period, start)
            for c, held in days.items()
            for day in held
            for period, start in domain.boards_of_day(day)
        }
        for c, period, start in boards:
            state = states.get((c, period, board_bucket(start)))
            if state is None:
                unversioned.add(c)
                continue
            meta = BoardMeta(as_of=state.as_of, total=state.total)
            checked.append((c, activity_board_keys(c, period, start)[2], meta))
    stale = await boards_stale(
        mirror.client, [(key, meta) for _, key, meta in checked], versions=versions
    )
    wrong = unversioned | {c for (c, _, _), bad in zip(checked, stale, strict=True) if bad}
    return [(c, held) for c, held in days.items() if c in wrong]


async def rebuild_competition(
    session: AsyncSession, mirror: ActivityBoardMirror, competition_id: uuid.UUID, days: list[date]
) -> None:
    """Rewrite every board of one activity competition from the ledger."""
    await repository.lock_competition(session, competition_id)
    for board_day in days:
        await recompute_boards(session, None, mirror, competition_id, board_day)

"""Placing lines with the prebuilt statements (ADR 0076) equals a full re-rank, teams included.

A random stream of scores (ties, jumps to first and to last place, bursts in one
unit of work) and invalidations goes through the use cases on real Postgres for a
competition with teams, final selections, display names and a sponsor's baseline,
whose end has passed, so both boards are announced. After every step both stored
boards must equal the boards ranked from scratch as `recompute_board` ranks them,
and the `leaderboard.rank_changed` events must be exactly the moves between the two
rebuilt boards, told to each member of a team line and to nobody for the baseline.
The mirror's deltas, applied to a real Redis, must give the rebuilt boards with
their names and team members.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import competitions_factories as factories
import redis.asyncio as redis
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.domain import rank_changes
from podium_competitions.erasure.repository import ANONYMOUS
from podium_competitions.erasure.service import erase_user
from podium_competitions.leaderboard import repository, service
from podium_competitions.leaderboard.domain import Entry, Split, rank_board
from podium_competitions.leaderboard.mirror import LeaderboardMirror, board_keys, mirrored_lines
from podium_competitions.leaderboard.models import leaderboard_entries
from podium_competitions.models import metadata, users
from podium_competitions.sponsor.repository import removed_from_board
from podium_competitions.teams import repository as teams_repository
from podium_competitions.teams.domain import final_candidates
from podium_competitions.teams.models import final_selections
from podium_contracts.events import ScoredData, SubmissionInvalidatedData
from podium_runtime.outbox import messaging_tables
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from test_incremental_boards import RecordingWriter

OUTBOX = messaging_tables(metadata).outbox
SPLITS: tuple[Split, ...] = ("public", "private")


async def _rebuilt(session: AsyncSession, competition_id: uuid.UUID) -> dict[Split, list[Entry]]:
    """Rank both boards from scratch with teams and final selections (the oracle)."""
    team_of = await teams_repository.entrants(session, competition_id)
    submissions = [
        replace(s, user_id=team_of.get(s.user_id, s.user_id))
        for s in await repository.scored_submissions(session, competition_id)
    ]
    _, limit, _ = await repository.board_settings(session, competition_id)
    chosen = await teams_repository.selections(session, competition_id)
    eligible = final_candidates(submissions, chosen, limit)
    return {
        "public": rank_board(submissions, "public"),
        "private": rank_board(submissions, "private", eligible=eligible),
    }


async def _stored(session: AsyncSession, competition_id: uuid.UUID, split: Split) -> list[tuple]:
    t = leaderboard_entries.c
    rows = await session.execute(
        select(t.user_id, t.rank, t.score, t.submission_id, t.submissions, t.last_submission_at)
        .where(t.competition_id == competition_id, t.split == split)
        .order_by(t.rank)
    )
    return [tuple(row) for row in rows]


def _lines(entries: list[Entry]) -> list[tuple]:
    return [
        (e.user_id, e.rank, e.score, e.submission_id, e.submissions, e.last_submission_at)
        for e in entries
    ]


async def _announced_since(session: AsyncSession, seq: int) -> tuple[set[tuple], int]:
    events, seq = await factories.announced_since(session, seq)
    found = {
        (data["split"], uuid.UUID(data["user_id"]), data["old_rank"], data["new_rank"])
        for data in events
    }
    return found, seq


async def test_placements_with_teams_equal_a_full_re_rank_and_tell_exactly_who_moved(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    now = datetime.now(UTC)
    # The end has passed: the private board is public knowledge and announced too.
    await factories.end(session, competition.id)
    owner_id = competition.owner_id
    rng = random.Random(76)
    solo = [uuid.uuid4() for _ in range(14)]
    team_ids = [
        await factories.team(session, competition.id, f"Team {n}", owner_id) for n in range(3)
    ]
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for number, team_id in enumerate(team_ids):
        members[team_id] = sorted(uuid.uuid4() for _ in range(number + 1))
        await teams_repository.add_members(session, competition.id, team_id, members[team_id])
    people = solo + [m for ms in members.values() for m in ms] + [owner_id]
    names = {user_id: f"user {i}" for i, user_id in enumerate(solo[:8])}
    await session.execute(
        insert(users),
        [{"user_id": u, "display_name": n, "timezone": "UTC"} for u, n in names.items()],
    )
    names.update({team_id: f"Team {i}" for i, team_id in enumerate(team_ids)})
    # The first team chose two of its future submissions for the private board.
    chosen = [uuid.uuid4() for _ in range(2)]
    await session.execute(
        insert(final_selections),
        [
            {
                "competition_id": competition.id,
                "entrant_id": team_ids[0],
                "submission_id": s,
                "selected_by": members[team_ids[0]][0],
            }
            for s in chosen
        ],
    )
    writer = RecordingWriter(redis_client)
    outbox, mirror = factories.outbox(), LeaderboardMirror(writer)
    recipients = {**members, owner_id: []}
    submitted: list[ScoredData] = []
    start = now - timedelta(minutes=30)
    seq = 0
    for step in range(160):
        before = await _rebuilt(session, competition.id)
        if submitted and rng.random() < 0.1:
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
            burst = []
            for i in range(rng.choice((1, 1, 1, 2, 4))):
                at = start + timedelta(seconds=step // 2)
                roll = rng.random()
                # Jumps to first and to last place; rounded scores make ties.
                public = 1.0 if roll < 0.1 else 0.0 if roll < 0.2 else round(rng.random(), 1)
                author = rng.choice(people)
                submission_id = uuid.uuid4()
                if author in members[team_ids[0]] and chosen and rng.random() < 0.5:
                    submission_id = chosen.pop()
                burst.append(
                    ScoredData(
                        submission_id=submission_id,
                        competition_id=competition.id,
                        user_id=author,
                        metric="auc_roc",
                        higher_is_better=True,
                        public_score=public,
                        private_score=round(rng.random(), 1),
                        submitted_at=at,
                        scored_at=at + timedelta(microseconds=i),
                    )
                )
            submitted += burst
            await service.record_scores(session, outbox, mirror, burst)
        seq = await _assert_placed_as_re_ranked(session, competition.id, before, recipients, seq)

    final = await _rebuilt(session, competition.id)
    assert any(e.user_id in members for e in final["public"])  # teams are on the board
    await _assert_mirrored(redis_client, writer, competition.id, final, names, members, owner_id)


async def _assert_placed_as_re_ranked(
    session: AsyncSession,
    competition_id: uuid.UUID,
    before: dict[Split, list[Entry]],
    recipients: dict[uuid.UUID, list[uuid.UUID]],
    seq: int,
) -> int:
    """Both stored boards equal a re-rank from scratch, and the `rank_changed` events since
    `seq` are exactly the moves from `before`, each told to the line's recipients (a team's
    members, nobody for the baseline). Returns the last outbox seq read."""
    after = await _rebuilt(session, competition_id)
    expected = set()
    for split in SPLITS:
        assert await _stored(session, competition_id, split) == _lines(after[split]), split
        was = {e.user_id: e.rank for e in before[split]}
        for change in rank_changes(was, after[split]):
            for user_id in recipients.get(change.user_id, [change.user_id]):
                expected.add((split, user_id, change.old_rank, change.new_rank))
    announced, seq = await _announced_since(session, seq)
    assert announced == expected
    return seq


async def _assert_mirrored(
    client: redis.Redis,
    writer: RecordingWriter,
    competition_id: uuid.UUID,
    final: dict[Split, list[Entry]],
    names: dict[uuid.UUID, str],
    members: dict[uuid.UUID, list[uuid.UUID]],
    owner_id: uuid.UUID | None,
) -> None:
    """The writes staged, applied in order to a real Redis, give the re-ranked boards."""
    await writer.replay()
    for split in SPLITS:
        board = await factories.mirrored_board(client, board_keys(competition_id, split))
        expected_lines = mirrored_lines(final[split], names, members, owner_id)
        assert board == [line.entry for line in expected_lines]


async def test_one_arrival_shifts_every_line_below_it_and_each_hears_of_it(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    outbox, mirror = factories.outbox(), LeaderboardMirror(RecordingWriter(redis_client))
    start = datetime.now(UTC) - timedelta(minutes=30)
    people = [uuid.uuid4() for _ in range(30)]

    def scored(user_id: uuid.UUID, score: float, second: int) -> ScoredData:
        return factories.scored(
            competition.id, user_id, score, at=start + timedelta(seconds=second)
        )

    await service.record_scores(
        session, outbox, mirror, [scored(p, 0.5 + i / 100, i) for i, p in enumerate(people)]
    )
    _, seq = await _announced_since(session, 0)
    newcomer = uuid.uuid4()
    await service.record_scored(session, outbox, mirror, scored(newcomer, 0.99, 100))
    announced, seq = await _announced_since(session, seq)
    ranked = list(reversed(people))  # the best score first
    assert announced == {("public", newcomer, None, 1)} | {
        ("public", p, rank, rank + 1) for rank, p in enumerate(ranked, start=1)
    }
    # A worse file leaves the best line where it is: nobody moves.
    worse = scored(newcomer, 0.1, 101)
    await service.record_scored(session, outbox, mirror, worse)
    assert (await _announced_since(session, seq))[0] == set()
    # Its best file invalidated, the first line falls to last place; every other moves up.
    best = next(
        s.submission_id
        for s in await repository.scored_submissions(session, competition.id)
        if s.user_id == newcomer and s.public_score == 0.99
    )
    await service.record_invalidated(
        session,
        outbox,
        mirror,
        SubmissionInvalidatedData(
            submission_id=best,
            competition_id=competition.id,
            user_id=newcomer,
            invalidated_by=competition.owner_id,
        ),
    )
    announced, seq = await _announced_since(session, seq)
    assert announced == {("public", newcomer, 1, len(people) + 1)} | {
        ("public", p, rank + 1, rank) for rank, p in enumerate(ranked, start=1)
    }
    rebuilt = await _rebuilt(session, competition.id)
    for split in SPLITS:
        assert await _stored(session, competition.id, split) == _lines(rebuilt[split])


async def test_team_changes_and_final_selections_place_lines_as_a_full_re_rank_does(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    await factories.end(session, competition.id)
    owner_id = competition.owner_id
    rng = random.Random(92)
    solo = [uuid.uuid4() for _ in range(24)]
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    names: dict[uuid.UUID, str] = {}
    writer = RecordingWriter(redis_client)
    outbox, mirror = factories.outbox(), LeaderboardMirror(writer)
    start = datetime.now(UTC) - timedelta(minutes=30)
    seq = 0

    def scored(author: uuid.UUID, second: int) -> ScoredData:
        at = start + timedelta(seconds=second)
        public, private = round(rng.random(), 1), round(rng.random(), 1)
        return factories.scored(competition.id, author, public, private, at)

    await service.record_scores(session, outbox, mirror, [scored(p, 0) for p in solo[:20]])
    _, seq = await _announced_since(session, seq)
    for step in range(1, 60):
        before = await _rebuilt(session, competition.id)
        teams = list(members)
        roll = rng.random()
        if roll < 0.2 and solo:
            # A participant (on the board or not yet) founds a team.
            founder = solo.pop(rng.randrange(len(solo)))
            team_id = await factories.team(session, competition.id, f"Team {step}", founder)
            await teams_repository.add_members(session, competition.id, team_id, [founder])
            await teams_repository.move_selection(session, competition.id, founder, team_id)
            members[team_id], names[team_id] = [founder], f"Team {step}"
            await service.regroup(session, outbox, mirror, competition.id, founder, founder)
        elif roll < 0.4 and solo and teams:
            joiner, team_id = solo.pop(rng.randrange(len(solo))), rng.choice(teams)
            await teams_repository.add_members(session, competition.id, team_id, [joiner])
            await teams_repository.replace_selection(session, competition.id, joiner, [], joiner)
            members[team_id] = sorted([*members[team_id], joiner])
            await service.regroup(session, outbox, mirror, competition.id, joiner, joiner)
        elif roll < 0.5 and len(teams) > 1:
            source, target = rng.sample(teams, 2)
            await teams_repository.move_members(session, source, target)
            await teams_repository.move_selection(session, competition.id, source, target)
            await teams_repository.delete_team(session, source)
            members[target] = sorted([*members[target], *members.pop(source)])
            names.pop(source)
            mover = members[target][0]
            await service.regroup(session, outbox, mirror, competition.id, mover, source)
        elif roll < 0.65 and members and rng.random() < 0.5:
            # The sponsor takes a team member out, as `sponsor.service.remove_participant`.
            team_id = rng.choice(teams)
            out = rng.choice(members[team_id])
            assert await teams_repository.remove_member(session, competition.id, out) == team_id
            await removed_from_board(session, competition.id, out)
            members[team_id].remove(out)
            again = [out, members[team_id][0] if members[team_id] else team_id]
            if not members[team_id]:
                # A team left without members is placed by its id: off the board. Like
                # any line no one is told of, its move goes to its own id.
                del members[team_id], names[team_id]
            await service.place_again(session, outbox, mirror, competition.id, again)
        elif roll < 0.65:
            # The sponsor takes a participant without a team out.
            out = rng.choice(solo)
            await removed_from_board(session, competition.id, out)
            await service.place_again(session, outbox, mirror, competition.id, [out])
        elif roll < 0.75 and teams:
            team_id = rng.choice(teams)
            ours = [
                s.submission_id
                for s in await repository.scored_submissions(session, competition.id)
                if s.user_id in members[team_id]
            ]
            chosen = rng.sample(ours, min(len(ours), rng.choice((0, 1, 2))))
            await teams_repository.replace_selection(
                session, competition.id, team_id, chosen, members[team_id][0]
            )
            await service.place_entrant(
                session, outbox, mirror, competition.id, members[team_id][0]
            )
        else:
            people = solo + [m for ms in members.values() for m in ms]
            burst = [scored(rng.choice(people), step) for _ in range(rng.choice((1, 1, 3)))]
            await service.record_scores(session, outbox, mirror, burst)
        recipients = {**members, owner_id: []}
        seq = await _assert_placed_as_re_ranked(session, competition.id, before, recipients, seq)

    final = await _rebuilt(session, competition.id)
    assert any(e.user_id in members for e in final["public"])  # teams are on the board
    await _assert_mirrored(redis_client, writer, competition.id, final, names, members, owner_id)


async def test_an_erased_participant_keeps_their_places_under_an_anonymous_name(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    competition = await factories.competition(session)
    await factories.end(session, competition.id)
    people = [uuid.uuid4() for _ in range(6)]
    names: dict[uuid.UUID, str] = {p: f"user {i}" for i, p in enumerate(people)}
    await session.execute(
        insert(users),
        [{"user_id": u, "display_name": n, "timezone": "UTC"} for u, n in names.items()],
    )
    writer = RecordingWriter(redis_client)
    outbox, mirror = factories.outbox(), LeaderboardMirror(writer)
    scores = [factories.scored(competition.id, p, 0.5 + i / 10) for i, p in enumerate(people)]
    await service.record_scores(session, outbox, mirror, scores)
    before = await _rebuilt(session, competition.id)
    _, seq = await _announced_since(session, 0)
    erased = people[2]
    await erase_user(session, erased, mirror, ActivityBoardMirror(writer))
    # Nobody moved, nobody is told; the line stays where it was, under the anonymous name.
    seq = await _assert_placed_as_re_ranked(session, competition.id, before, {}, seq)
    names[erased] = ANONYMOUS
    await _assert_mirrored(
        redis_client, writer, competition.id, before, names, {}, competition.owner_id
    )


async def test_placements_run_on_the_generic_plan_from_the_first(
    session: AsyncSession, redis_client: redis.Redis
) -> None:
    """ADR 0103: the context read sets the unit of work to generic plans, so Postgres
    never plans the placement statement again for its parameters (its own choice would
    be a new plan at each of at least the first five runs on a connection)."""
    competition = await factories.competition(session)
    mirror = LeaderboardMirror(RecordingWriter(redis_client))
    before = await _placement_plans(session)
    for i in range(8):
        score = factories.scored(competition.id, uuid.uuid4(), i / 10)
        await service.record_scores(session, factories.outbox(), mirror, [score])
    generic, custom = await _placement_plans(session)
    assert (generic - before[0], custom - before[1]) == (8, 0)


async def _placement_plans(session: AsyncSession) -> tuple[int, int]:
    """How often this connection ran the placement statement on a generic and on a custom
    plan (nothing yet: no row)."""
    row = (
        await session.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%WITH at_public AS MATERIALIZED%'"
                " AND statement NOT LIKE '%pg_prepared_statements%'"
            )
        )
    ).one_or_none()
    return (row.generic_plans, row.custom_plans) if row is not None else (0, 0)

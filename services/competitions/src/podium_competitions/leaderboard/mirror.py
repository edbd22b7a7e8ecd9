"""Redis mirror of the prediction boards, read by the gateway (SPEC §6, §7.2).

The layout is `podium_competitions.boards`'s, under the keys of
`podium_contracts.redis_keys.leaderboard_*_key`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import redis.asyncio as redis
from podium_contracts.read_models import BoardEntry
from podium_contracts.redis_keys import (
    board_member,
    leaderboard_entries_key,
    leaderboard_meta_key,
    leaderboard_ranks_key,
)
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.boards import BoardDelta, BoardWriter, MirrorLine, epoch_micros
from podium_competitions.leaderboard.domain import Entry, Split


class LeaderboardMirror:
    """Writes ranked boards to Redis."""

    def __init__(self, writer: BoardWriter) -> None:
        self.writer = writer
        self.client: redis.Redis = writer.client

    def stage(
        self,
        session: AsyncSession,
        competition_id: uuid.UUID,
        split: Split,
        entries: Sequence[Entry],
        names: Mapping[uuid.UUID, str],
        as_of: datetime,
        teams: Mapping[uuid.UUID, list[uuid.UUID]] | None = None,
        baseline_id: uuid.UUID | None = None,
    ) -> None:
        """Replace one board in Redis once `session` commits (ADR 0031); `teams` maps a
        team's id to its members, and the line of `baseline_id` (the sponsor) is marked."""
        mirrored = mirrored_lines(entries, names, teams or {}, baseline_id)
        self.writer.stage(session, board_keys(competition_id, split), mirrored, as_of)

    def stage_delta(
        self, session: AsyncSession, competition_id: uuid.UUID, split: Split, delta: BoardDelta
    ) -> None:
        """Apply one board delta in Redis once `session` commits (ADR 0044)."""
        self.writer.stage_delta(session, board_keys(competition_id, split), delta)


def board_keys(competition_id: uuid.UUID, split: Split) -> tuple[str, str, str]:
    """Return the ranks, entries and meta keys of one prediction board."""
    return (
        leaderboard_ranks_key(competition_id, split),
        leaderboard_entries_key(competition_id, split),
        leaderboard_meta_key(competition_id, split),
    )


def mirrored_lines(
    entries: Sequence[Entry],
    names: Mapping[uuid.UUID, str],
    teams: Mapping[uuid.UUID, list[uuid.UUID]],
    baseline_id: uuid.UUID | None,
) -> list[MirrorLine]:
    """Return board lines as the gateway reads them, each placed by the board's order.

    `teams` maps a team to its members. The sorted set orders lines as `Entry.order`
    does: by `order_score`, then by the member, whose tie-breaks are the best
    submission's instant and id (`redis_keys.board_member`, ADR 0091).
    """
    return [
        MirrorLine(
            BoardEntry(
                user_id=e.user_id,
                rank=e.rank,
                display_name=names.get(e.user_id),
                score=e.score,
                submissions=e.submissions,
                last_submission_at=e.last_submission_at,
                team_id=e.user_id if e.user_id in teams else None,
                members=teams.get(e.user_id),
                baseline=e.user_id == baseline_id,
            ),
            e.order_score,
            board_member(epoch_micros(e.best_at), e.submission_id, e.user_id),
        )
        for e in entries
    ]

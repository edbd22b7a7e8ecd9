"""Redis mirror of activity boards, read by the gateway (SPEC §6, §7.3).

The same layout as the prediction boards' mirror (`podium_competitions.boards`),
under the keys of `podium_contracts.redis_keys.activity_board_keys`. A line's place
in the sorted set is the board's order: its points negated, then the member
`activity_member` (ADR 0094), so a points change moves one member by a delta and
a whole rewrite gives the same set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import redis.asyncio as redis
from podium_contracts import read_models
from podium_contracts.redis_keys import Period, activity_board_keys, activity_member
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity.domain import BoardEntry
from podium_competitions.boards import BoardDelta, BoardWriter, MirrorLine, epoch_micros


def mirrored_line(entry: BoardEntry, names: Mapping[uuid.UUID, str]) -> MirrorLine:
    """Return a board line as the gateway reads it, placed by the board's order.

    The stored JSON leaves the rank out (ADR 0091): a line placed by a delta of a
    day, week or month board, whose ranks Postgres does not keep, carries rank 0.
    """
    return MirrorLine(
        read_models.BoardEntry(
            user_id=entry.user_id,
            rank=entry.rank,
            display_name=names.get(entry.user_id),
            score=entry.score,
            # The shared entry shape: here, statements that earned points.
            submissions=entry.statements,
            last_submission_at=entry.last_statement_at,
        ),
        -entry.score,
        activity_member(epoch_micros(entry.last_statement_at), entry.user_id),
    )


class ActivityBoardMirror:
    """Writes activity boards to Redis: whole, or one line's change at a time."""

    def __init__(self, writer: BoardWriter) -> None:
        self.writer = writer
        self.client: redis.Redis = writer.client

    def stage(
        self,
        session: AsyncSession,
        competition_id: uuid.UUID,
        period: Period,
        start: date | None,
        entries: Sequence[BoardEntry],
        names: Mapping[uuid.UUID, str],
        as_of: datetime,
    ) -> None:
        """Replace one board in Redis once `session` commits (ADR 0031)."""
        keys = activity_board_keys(competition_id, period, start)
        self.writer.stage(session, keys, [mirrored_line(e, names) for e in entries], as_of)

    def stage_delta(
        self,
        session: AsyncSession,
        competition_id: uuid.UUID,
        period: Period,
        start: date | None,
        delta: BoardDelta,
    ) -> None:
        """Apply one board's delta once `session` commits, on the version it was computed on."""
        self.writer.stage_delta(session, activity_board_keys(competition_id, period, start), delta)

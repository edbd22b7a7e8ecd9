"""Redis mirror of activity boards, read by the gateway (SPEC §6, §7.3).

The same layout as the prediction boards' mirror (`podium_competitions.boards`),
under the keys of `podium_contracts.redis_keys.activity_board_keys`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import redis.asyncio as redis
from podium_contracts import read_models
from podium_contracts.redis_keys import Period, activity_board_keys
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions.activity.domain import BoardEntry
from podium_competitions.boards import BoardWriter, MirrorLine


class ActivityBoardMirror:
    """Writes ranked activity boards to Redis."""

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
        mirrored = [
            MirrorLine.by_rank(
                read_models.BoardEntry(
                    user_id=e.user_id,
                    rank=e.rank,
                    display_name=names.get(e.user_id),
                    score=e.score,
                    # The shared entry shape: here, statements that earned points.
                    submissions=e.statements,
                    last_submission_at=e.last_statement_at,
                )
            )
            for e in entries
        ]
        keys = activity_board_keys(competition_id, period, start)
        self.writer.stage(session, keys, mirrored, as_of)

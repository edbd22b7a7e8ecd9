"""Ranking rules of the leaderboard (SPEC §7.2): best per participant, ties by time, ranks 1..N."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from podium_competitions.domain import rank_changes
from podium_competitions.leaderboard.domain import ScoredSubmission, rank_board

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ADA, GRACE, EDSGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def sub(user: uuid.UUID, public: float, minutes: int, *, higher: bool = True) -> ScoredSubmission:
    """A scored submission `minutes` after T0 (private score mirrors the public one)."""
    return ScoredSubmission(
        submission_id=uuid.uuid4(),
        user_id=user,
        public_score=public,
        private_score=-public,
        higher_is_better=higher,
        submitted_at=T0 + timedelta(minutes=minutes),
    )


def test_best_submission_counts_and_ties_go_to_the_earlier_one() -> None:
    board = rank_board(
        [sub(ADA, 0.8, 5), sub(ADA, 0.9, 1), sub(GRACE, 0.9, 3), sub(EDSGER, 0.7, 0)], "public"
    )
    assert [(e.user_id, e.rank, e.score) for e in board] == [
        (ADA, 1, 0.9),
        (GRACE, 2, 0.9),
        (EDSGER, 3, 0.7),
    ]
    assert board[0].submissions == 2
    assert board[0].last_submission_at == T0 + timedelta(minutes=5)


def test_lower_is_better_metrics_rank_the_smallest_error_first() -> None:
    board = rank_board([sub(ADA, 0.3, 0, higher=False), sub(GRACE, 0.1, 1, higher=False)], "public")
    assert [e.user_id for e in board] == [GRACE, ADA]


def test_private_split_ranks_private_scores() -> None:
    board = rank_board([sub(ADA, 0.9, 0), sub(GRACE, 0.5, 1)], "private")
    assert [e.user_id for e in board] == [GRACE, ADA]


def test_rank_changes_cover_moves_arrivals_and_departures() -> None:
    after = rank_board([sub(GRACE, 0.9, 0), sub(EDSGER, 0.8, 1)], "public")
    changes = {c.user_id: (c.old_rank, c.new_rank) for c in rank_changes({ADA: 1, GRACE: 2}, after)}
    assert changes == {GRACE: (2, 1), EDSGER: (None, 2), ADA: (1, None)}
    assert rank_changes({GRACE: 1, EDSGER: 2}, after) == []

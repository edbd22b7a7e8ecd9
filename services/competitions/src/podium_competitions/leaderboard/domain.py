"""Pure ranking rules of the leaderboard (SPEC §7.2); no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Split = Literal["public", "private"]
SPLITS: tuple[Split, ...] = ("public", "private")


@dataclass(frozen=True)
class ScoredSubmission:
    """One judged submission still on the board (not invalidated)."""

    submission_id: uuid.UUID
    user_id: uuid.UUID
    public_score: float
    private_score: float
    higher_is_better: bool
    submitted_at: datetime


@dataclass(frozen=True)
class Entry:
    """One participant's line on a board."""

    user_id: uuid.UUID
    rank: int
    score: float
    submission_id: uuid.UUID
    submissions: int
    last_submission_at: datetime
    #: The line's place in the order: `order_score` (the score negated when higher is
    #: better), then `best_at`, then `submission_id`; smaller is better.
    order_score: float = 0.0
    best_at: datetime | None = None

    def order(self) -> tuple[float, datetime | None, str]:
        """Return the line's sort key, the same as `order_key` of its best submission."""
        return (self.order_score, self.best_at, str(self.submission_id))


def _score(submission: ScoredSubmission, split: Split) -> float:
    return submission.public_score if split == "public" else submission.private_score


def _order_key(submission: ScoredSubmission, split: Split) -> tuple[float, datetime, str]:
    # Better first by the metric's direction, then the earlier submission (SPEC §7.2);
    # the id only makes the order total when two files arrive in the same microsecond.
    score = _score(submission, split)
    return (
        -score if submission.higher_is_better else score,
        submission.submitted_at,
        str(submission.submission_id),
    )


def order_key(submission: ScoredSubmission, split: Split) -> tuple[float, datetime, str]:
    """Return the sort key of a submission on a board: smaller is better (SPEC §7.2)."""
    return _order_key(submission, split)


def rank_board(
    submissions: Iterable[ScoredSubmission],
    split: Split,
    eligible: Container[uuid.UUID] | None = None,
) -> list[Entry]:
    """Rank each participant (or team) by their best submission; ranks are 1..N with no gaps.

    With `eligible`, only those submissions may be a participant's best (the final
    selection of the private board, SPEC §10.2); `submissions` still counts them all.
    """
    best: dict[uuid.UUID, ScoredSubmission] = {}
    counts: dict[uuid.UUID, int] = {}
    last: dict[uuid.UUID, datetime] = {}
    for sub in submissions:
        counts[sub.user_id] = counts.get(sub.user_id, 0) + 1
        if sub.user_id not in last or sub.submitted_at > last[sub.user_id]:
            last[sub.user_id] = sub.submitted_at
        if eligible is not None and sub.submission_id not in eligible:
            continue
        held = best.get(sub.user_id)
        if held is None or _order_key(sub, split) < _order_key(held, split):
            best[sub.user_id] = sub
    ordered = sorted(best.values(), key=lambda s: _order_key(s, split))
    return [
        Entry(
            user_id=sub.user_id,
            rank=position,
            score=_score(sub, split),
            submission_id=sub.submission_id,
            submissions=counts[sub.user_id],
            last_submission_at=last[sub.user_id],
            order_score=_order_key(sub, split)[0],
            best_at=sub.submitted_at,
        )
        for position, sub in enumerate(ordered, start=1)
    ]

"""Pure rules of teams and final submissions (SPEC §10.2); no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from podium_contracts.codes import TeamRejection

from podium_competitions.leaderboard.domain import ScoredSubmission, order_key


def frozen(merge_deadline: datetime | None, now: datetime) -> bool:
    """Tell whether teams are frozen: past the merge deadline nobody joins or merges."""
    return merge_deadline is not None and now >= merge_deadline


def growth_refusal(
    *,
    size: int,
    joining: int,
    size_limit: int | None,
    used_today: int,
    joining_used_today: int,
    daily_limit: int | None,
    merge_deadline: datetime | None,
    now: datetime,
) -> TeamRejection | None:
    """Return why a team may not take `joining` more people, or None when it may.

    The combined history must fit: today's submissions of both sides together may
    not exceed the daily limit, or the merged team would have submitted too much.
    """
    if frozen(merge_deadline, now):
        return TeamRejection.TEAMS_FROZEN
    if size_limit is not None and size + joining > size_limit:
        return TeamRejection.TEAM_FULL
    if daily_limit is not None and used_today + joining_used_today > daily_limit:
        return TeamRejection.DAILY_LIMIT_EXCEEDED
    return None


def default_selection(submissions: Iterable[ScoredSubmission], k: int) -> list[uuid.UUID]:
    """Return an entrant's best `k` submissions by public score (the default final choice)."""
    ordered = sorted(submissions, key=lambda s: order_key(s, "public"))
    return [s.submission_id for s in ordered[:k]]


def final_candidates(
    submissions: Iterable[ScoredSubmission],
    chosen: Mapping[uuid.UUID, set[uuid.UUID]],
    k: int,
) -> set[uuid.UUID]:
    """Return the submissions that may count on the private board.

    Per entrant: the selected ones still on the board (at most `k`), or, when the
    entrant chose nothing (or nothing chosen is left), its best `k` public scores.
    """
    by_entrant: dict[uuid.UUID, list[ScoredSubmission]] = {}
    for sub in submissions:
        by_entrant.setdefault(sub.user_id, []).append(sub)
    eligible: set[uuid.UUID] = set()
    for entrant, subs in by_entrant.items():
        present = {s.submission_id for s in subs} & chosen.get(entrant, set())
        if present:
            picked = [s for s in subs if s.submission_id in present]
            eligible.update(default_selection(picked, k))
        else:
            eligible.update(default_selection(subs, k))
    return eligible

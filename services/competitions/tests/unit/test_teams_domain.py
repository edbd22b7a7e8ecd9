"""Team growth rules and the default final selection (pure, SPEC §10.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from podium_competitions.leaderboard.domain import ScoredSubmission, rank_board
from podium_competitions.teams.domain import default_selection, final_candidates, growth_refusal
from podium_contracts.codes import TeamRejection

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _sub(entrant: uuid.UUID, public: float, private: float, minutes: int) -> ScoredSubmission:
    return ScoredSubmission(
        submission_id=uuid.uuid4(),
        user_id=entrant,
        public_score=public,
        private_score=private,
        higher_is_better=True,
        submitted_at=NOW + timedelta(minutes=minutes),
    )


def _growth(**changes: object) -> TeamRejection | None:
    facts: dict[str, object] = {
        "size": 2,
        "joining": 1,
        "size_limit": 3,
        "used_today": 1,
        "joining_used_today": 1,
        "daily_limit": 2,
        "merge_deadline": NOW + timedelta(days=1),
        "now": NOW,
    }
    facts.update(changes)
    return growth_refusal(**facts)  # type: ignore[arg-type]


def test_growth_is_refused_past_the_deadline_over_the_size_or_over_the_day() -> None:
    assert _growth() is None
    assert _growth(merge_deadline=NOW) == TeamRejection.TEAMS_FROZEN
    assert _growth(joining=2) == TeamRejection.TEAM_FULL
    assert _growth(joining_used_today=2) == TeamRejection.DAILY_LIMIT_EXCEEDED
    assert _growth(size_limit=None, daily_limit=None, merge_deadline=None, joining=50) is None


def test_the_default_selection_is_the_best_k_public_scores_earliest_first_on_ties() -> None:
    team = uuid.uuid4()
    a, b, c = _sub(team, 0.9, 0.1, 0), _sub(team, 0.5, 0.9, 1), _sub(team, 0.9, 0.2, 2)
    assert default_selection([a, b, c], 2) == [a.submission_id, c.submission_id]


def test_the_private_board_ranks_the_best_private_score_among_the_selected() -> None:
    chooser, idle = uuid.uuid4(), uuid.uuid4()
    star = _sub(chooser, 0.2, 0.99, 0)
    public_best = _sub(chooser, 0.9, 0.3, 1)
    idle_subs = [_sub(idle, 0.8, 0.5, 2), _sub(idle, 0.7, 0.6, 3), _sub(idle, 0.1, 0.95, 4)]
    subs = [star, public_best, *idle_subs]
    eligible = final_candidates(subs, {chooser: {star.submission_id}}, k=2)
    board = rank_board(subs, "private", eligible=eligible)
    # The chooser's star counts; the idle team's best two public ones hold 0.6 at best.
    assert [(e.user_id, e.score) for e in board] == [(chooser, 0.99), (idle, 0.6)]
    assert [e.submissions for e in board] == [2, 3]
    # A selection whose submissions are gone falls back to the default.
    fallback = final_candidates(subs, {chooser: {uuid.uuid4()}}, k=1)
    assert star.submission_id not in fallback and public_best.submission_id in fallback

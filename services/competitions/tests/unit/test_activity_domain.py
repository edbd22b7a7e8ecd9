"""Point rules, daily cap, local-day buckets and ranking of activity competitions (SPEC §7.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from podium_competitions.activity.domain import (
    VOIDED_VERB,
    PointRule,
    Rules,
    Standing,
    award,
    boards_of_day,
    period_days,
    rank_points,
)
from podium_competitions.domain import rank_changes
from podium_contracts.actors import mbox_email
from podium_contracts.redis_keys import activity_board_keys
from podium_runtime.timezones import local_day, local_day_bounds

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
LESSONS = "https://lessons.example/course-1/"

RULES = Rules.from_json(
    {
        "points": [
            {"verb": PASSED, "points": 50, "min_scaled_score": 0.8},
            {"verb": COMPLETED, "activity_prefix": LESSONS, "points": 10},
            {"verb": COMPLETED, "points": 2},
        ],
        "daily_cap": 25,
        "tier_multipliers": {"beginner": 1.2, "advanced": 0.9},
    }
)


def test_the_first_matching_rule_in_the_sponsors_order_decides() -> None:
    lesson = RULES.first_match(COMPLETED, LESSONS + "lesson-3", None)
    elsewhere = RULES.first_match(COMPLETED, "https://other.example/x", None)
    assert lesson is not None and lesson.points == 10
    # The prefix rule does not match, so the catch-all completed rule below it applies.
    assert elsewhere is not None and elsewhere.points == 2


def test_minimum_score_needs_a_score_at_or_above_it() -> None:
    assert RULES.first_match(PASSED, LESSONS, 0.8) is not None
    assert RULES.first_match(PASSED, LESSONS, 0.79) is None
    assert RULES.first_match(PASSED, LESSONS, None) is None


def test_prefix_rules_need_an_activity_and_voiding_never_earns() -> None:
    only_prefix = Rules((PointRule(COMPLETED, 10, activity_prefix=LESSONS),))
    assert only_prefix.first_match(COMPLETED, None, None) is None
    assert Rules((PointRule(VOIDED_VERB, 10),)).first_match(VOIDED_VERB, None, None) is None


def test_tier_multipliers_apply_only_to_known_listed_tiers() -> None:
    rule = PointRule(COMPLETED, 10)
    assert award(rule, RULES.multiplier("beginner"), 0, None).points == 12
    assert award(rule, RULES.multiplier("advanced"), 0, None).points == 9
    assert RULES.multiplier("expert") == 1.0
    assert RULES.multiplier(None) == 1.0
    assert Rules((rule,)).multiplier("beginner") == 1.0


def test_the_daily_cap_awards_only_what_remains() -> None:
    rule = PointRule(COMPLETED, 10)
    assert award(rule, 1.0, 0, 25).points == 10
    partial = award(rule, 1.0, 20, 25)
    assert (partial.base, partial.points, partial.capped) == (10, 5, True)
    assert award(rule, 1.0, 25, 25).points == 0
    assert award(rule, 1.0, 30, 25).points == 0  # never negative
    assert award(rule, 1.0, 10_000, None).points == 10


def test_local_midnight_in_tokyo_separates_days() -> None:
    before = datetime(2026, 3, 10, 14, 59, tzinfo=UTC)  # 23:59 in Tokyo
    after = datetime(2026, 3, 10, 15, 1, tzinfo=UTC)  # 00:01 the next day in Tokyo
    assert local_day(before, "Asia/Tokyo") == date(2026, 3, 10)
    assert local_day(after, "Asia/Tokyo") == date(2026, 3, 11)
    # The same two instants are one UTC day: the cap follows the participant's zone.
    assert local_day(before, "UTC") == local_day(after, "UTC")


def test_a_spring_forward_day_lasts_23_hours_and_keeps_its_statements() -> None:
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29.
    start, end = local_day_bounds(date(2026, 3, 29), "Europe/Berlin")
    assert end - start == timedelta(hours=23)
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert local_day(end - timedelta(seconds=1), "Europe/Berlin") == date(2026, 3, 29)
    assert local_day(end, "Europe/Berlin") == date(2026, 3, 30)
    # 23:30 local after the change is 21:30 UTC, still the same local day.
    assert local_day(datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "Europe/Berlin") == date(
        2026, 3, 29
    )


def test_a_fall_back_day_lasts_25_hours() -> None:
    # America/New_York repeats 01:00-02:00 on 2026-11-01.
    start, end = local_day_bounds(date(2026, 11, 1), "America/New_York")
    assert end - start == timedelta(hours=25)
    # 05:30 and 06:30 UTC both read 01:30 on the wall clock; both belong to that day.
    first, second = (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    )
    assert local_day(first, "America/New_York") == local_day(second, "America/New_York")
    assert local_day(second, "America/New_York") == date(2026, 11, 1)


def test_an_unknown_zone_counts_in_utc() -> None:
    at = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    assert local_day(at, "Mars/Olympus") == local_day(at, None) == date(2026, 3, 10)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    sunday = date(2026, 3, 15)
    assert period_days("day", sunday) == (sunday, sunday)
    assert period_days("week", sunday) == (date(2026, 3, 9), date(2026, 3, 15))
    assert period_days("week", date(2026, 3, 16)) == (date(2026, 3, 16), date(2026, 3, 22))
    assert period_days("month", sunday) == (date(2026, 3, 1), date(2026, 3, 31))
    assert period_days("month", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_days("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_days("all", sunday) is None
    assert boards_of_day(sunday) == [
        ("all", None),
        ("day", sunday),
        ("week", date(2026, 3, 9)),
        ("month", date(2026, 3, 1)),
    ]


def test_board_keys_name_the_period_and_its_first_day() -> None:
    cid = uuid.UUID(int=7)
    ranks, entries, meta = activity_board_keys(cid, "week", date(2026, 3, 9))
    assert ranks == f"podium:leaderboard:v2:{cid}:points:week:2026-03-09:ranks"
    assert entries.endswith(":entries") and meta.endswith(":meta")
    assert activity_board_keys(cid, "all", None)[0].endswith(":points:all:all:ranks")


T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ADA, GRACE, EDSGER = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


def test_more_points_first_and_ties_go_to_who_reached_the_total_first() -> None:
    board = rank_points(
        [
            Standing(ADA, 30, 3, T0 + timedelta(minutes=9)),
            Standing(GRACE, 30, 2, T0 + timedelta(minutes=4)),
            Standing(EDSGER, 45, 4, T0 + timedelta(minutes=20)),
        ]
    )
    assert [(e.user_id, e.rank, e.score) for e in board] == [
        (EDSGER, 1, 45),
        (GRACE, 2, 30),
        (ADA, 3, 30),
    ]
    assert board[1].statements == 2 and board[1].last_statement_at == T0 + timedelta(minutes=4)


def test_rank_moves_cover_moves_arrivals_and_departures() -> None:
    after = rank_points([Standing(GRACE, 20, 1, T0), Standing(EDSGER, 10, 1, T0)])
    moves = {m.user_id: (m.old_rank, m.new_rank) for m in rank_changes({ADA: 1, GRACE: 2}, after)}
    assert moves == {GRACE: (2, 1), EDSGER: (None, 2), ADA: (1, None)}
    assert rank_changes({GRACE: 1, EDSGER: 2}, after) == []


@pytest.mark.parametrize(
    ("actor", "email"),
    [
        ("mbox:mailto:ada@example.org", "ada@example.org"),
        ("MBOX:MAILTO:Ada@Example.org", "ada@example.org"),
        ("account:https://podium.test|123", None),
        ("mbox_sha1sum:abc", None),
    ],
)
def test_mbox_actor_keys_name_an_email(actor: str, email: str | None) -> None:
    assert mbox_email(actor) == email

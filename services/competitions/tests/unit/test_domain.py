"""Pure rules: status machine, time zones, invite codes, join refusals, input shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from podium_competitions import domain
from podium_competitions.schemas import CompetitionCreate
from podium_runtime.timezones import is_iana_zone
from pydantic import ValidationError

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("draft", "active", True),
        ("active", "ended", True),
        ("draft", "canceled", True),
        ("active", "canceled", True),
        ("active", "active", True),
        ("draft", "ended", False),
        ("ended", "active", False),
        ("canceled", "active", False),
        ("ended", "canceled", False),
        ("active", "draft", False),
    ],
)
def test_status_machine(current: str, target: str, allowed: bool) -> None:
    assert domain.can_transition(current, target) is allowed


def test_timezones() -> None:
    assert is_iana_zone("America/New_York")
    assert is_iana_zone("UTC")
    assert not is_iana_zone("Mars/Olympus")
    assert not is_iana_zone("../../etc/passwd")


def test_invite_codes_are_long_random_and_compared_exactly() -> None:
    codes = {domain.new_invite_code() for _ in range(100)}
    assert len(codes) == 100
    assert all(len(code) >= 16 for code in codes)
    code = codes.pop()
    assert domain.invite_code_matches(code, code)
    assert not domain.invite_code_matches(code, code.upper() + "x")
    assert not domain.invite_code_matches(None, code)
    assert not domain.invite_code_matches(code, None)


def _target(**overrides: object) -> domain.JoinTarget:
    values: dict[str, object] = {
        "owner_id": uuid.UUID(int=1),
        "status": "active",
        "visibility": "public",
        "invite_code": None,
        "starts_at": NOW + timedelta(days=1),
        "late_join": False,
    }
    values.update(overrides)
    return domain.JoinTarget(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "user", "code", "reason"),
    [
        ({}, uuid.UUID(int=2), None, None),
        ({}, uuid.UUID(int=1), None, "OWNER_CANNOT_JOIN"),
        ({"status": "draft"}, uuid.UUID(int=2), None, "COMPETITION_NOT_ACTIVE"),
        ({"status": "ended"}, uuid.UUID(int=2), None, "COMPETITION_NOT_ACTIVE"),
        ({"starts_at": NOW - timedelta(hours=1)}, uuid.UUID(int=2), None, "ALREADY_STARTED"),
        ({"starts_at": NOW - timedelta(hours=1), "late_join": True}, uuid.UUID(int=2), None, None),
        (
            {"visibility": "private", "invite_code": "abc"},
            uuid.UUID(int=2),
            None,
            "INVALID_INVITE_CODE",
        ),
        (
            {"visibility": "private", "invite_code": "abc"},
            uuid.UUID(int=2),
            "abd",
            "INVALID_INVITE_CODE",
        ),
        ({"visibility": "private", "invite_code": "abc"}, uuid.UUID(int=2), "abc", None),
    ],
)
def test_join_refusal(
    overrides: dict[str, object], user: uuid.UUID, code: str | None, reason: str | None
) -> None:
    assert domain.join_refusal(_target(**overrides), user, code, NOW) == reason


BASE = {
    "title": "Churn",
    "starts_at": "2026-03-01T00:00:00Z",
    "ends_at": "2026-04-01T00:00:00Z",
}


def test_prediction_defaults_and_utc_normalisation() -> None:
    made = CompetitionCreate.model_validate(
        {
            **BASE,
            "kind": "prediction",
            "metric": "auc_roc",
            "starts_at": "2026-03-01T00:00:00-05:00",
        }
    )
    assert made.starts_at == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert made.daily_submission_limit == 5
    assert made.public_fraction == 0.3


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "prediction"},  # no metric
        {"kind": "prediction", "metric": "auc_roc", "timezone": "Mars/Olympus"},
        {"kind": "prediction", "metric": "auc_roc", "ends_at": "2026-02-01T00:00:00Z"},
        {"kind": "prediction", "metric": "auc_roc", "starts_at": "2026-03-01T00:00:00"},
        {"kind": "prediction", "metric": "auc_roc", "public_fraction": 1.5},
        {"kind": "activity"},  # no rules
        {"kind": "activity", "rules": {"points": []}},
        {"kind": "activity", "rules": {"points": [{"verb": "not an iri", "points": 1}]}},
        {
            "kind": "activity",
            "rules": {"points": [{"verb": "http://x/v", "points": 1, "min_scaled_score": 2}]},
        },
        {
            "kind": "activity",
            "metric": "rmse",
            "rules": {"points": [{"verb": "http://x/v", "points": 1}]},
        },
        {
            "kind": "activity",
            "rules": {"points": [{"verb": "http://x/v", "points": 1}], "bogus": 1},
        },
    ],
)
def test_invalid_competitions_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CompetitionCreate.model_validate({**BASE, **payload})


def test_activity_rules_shape() -> None:
    made = CompetitionCreate.model_validate(
        {
            **BASE,
            "kind": "activity",
            "timezone": "America/New_York",
            "rules": {
                "points": [
                    {"verb": "http://adlnet.gov/expapi/verbs/completed", "points": 10},
                    {
                        "verb": "http://adlnet.gov/expapi/verbs/passed",
                        "activity_prefix": "https://lms.example/course/1",
                        "points": 25,
                        "min_scaled_score": 0.8,
                    },
                ],
                "daily_cap": 1000,
                "daily_goal_verb": "http://adlnet.gov/expapi/verbs/completed",
                "tier_multipliers": {"beginner": 1.2, "advanced": 0.9},
            },
        }
    )
    assert made.rules is not None and len(made.rules.points) == 2
    assert made.metric is None and made.daily_submission_limit is None


@pytest.mark.parametrize(
    "tiers",
    [
        {f"tier-{n}": 1.0 for n in range(21)},  # an 880 KB request made a 1.07 MB event
        {"t" * 65: 1.0},
        {"": 1.0},
    ],
)
def test_tier_multipliers_are_bounded(tiers: dict[str, float]) -> None:
    rules = {
        "points": [{"verb": "http://adlnet.gov/expapi/verbs/completed", "points": 10}],
        "tier_multipliers": tiers,
    }
    with pytest.raises(ValidationError):
        CompetitionCreate.model_validate({**BASE, "kind": "activity", "rules": rules})

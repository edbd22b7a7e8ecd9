"""The activity rules of a competition as other services read them (SPEC §7.3).

`competition.created/updated` carry the rules as a JSON object; competitions
validates them strictly when a sponsor stores them. Readers (competitions'
point engine, the notifier's daily reminder) parse them with these models
instead of digging keys out of a dict; unknown keys are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class PointRuleFacts(BaseModel):
    """One point rule: a verb (and optional activity prefix / score floor) earns points."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    verb: str
    points: float
    activity_prefix: str | None = None
    min_scaled_score: float | None = None


class ActivityRulesFacts(BaseModel):
    """An activity competition's rules: point rules, daily cap, daily-goal verb, tiers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    points: tuple[PointRuleFacts, ...] = ()
    daily_cap: float | None = None
    daily_goal_verb: str | None = None
    tier_multipliers: dict[str, float] | None = None

    @classmethod
    def read(cls, raw: Mapping[str, Any] | None) -> ActivityRulesFacts:
        """Parse the stored or carried `rules` object; None reads as no rules."""
        return cls.model_validate(dict(raw or {}))

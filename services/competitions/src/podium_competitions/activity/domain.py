"""Pure rules of activity competitions (SPEC §7.3): point rules, daily cap, local days, ranks.

Decisions the spec leaves open, fixed here:

- Rules are tried in the order the sponsor listed them; the first that matches
  decides the points, later ones are not consulted.
- A tier multiplier applies only when the participant's tier is known and
  listed in `tier_multipliers`; otherwise the rule's points count as they are.
- The daily cap is per participant per local day in the participant's own time
  zone. Statements fill it in the order they are recorded; the one that reaches
  the cap earns only what remains, later ones that day earn nothing.
- Boards bucket by the competition's time zone (one shared "today" for
  everybody on a board); weeks start on Monday. A statement's board day is
  fixed when its points are recorded: changing the competition's time zone
  later moves only statements recorded afterwards.
- Ranks are 1..N without gaps: more points first; on equal points the
  participant who reached that total first (earlier statement timestamp) ranks
  higher.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from podium_contracts.redis_keys import Period, period_start
from podium_contracts.rules import ActivityRulesFacts

#: xAPI 2.3.2: a voiding statement never earns points; its target arrives voided instead.
VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

PERIODS: tuple[Period, ...] = ("all", "day", "week", "month")

#: Awarded points are rounded so that multipliers like 1.2 do not leave 12.000000000000002.
POINT_DECIMALS = 6


@dataclass(frozen=True)
class PointRule:
    """One way to earn points: a verb, optionally an activity prefix and a minimum score."""

    verb: str
    points: float
    activity_prefix: str | None = None
    min_scaled_score: float | None = None

    def matches(self, verb: str, activity_id: str | None, scaled_score: float | None) -> bool:
        """Tell whether a statement with these facts earns this rule's points."""
        if verb != self.verb:
            return False
        if self.activity_prefix is not None and (
            activity_id is None or not activity_id.startswith(self.activity_prefix)
        ):
            return False
        # A rule asking for a score is not met by a statement without one.
        return self.min_scaled_score is None or (
            scaled_score is not None and scaled_score >= self.min_scaled_score
        )


@dataclass(frozen=True)
class Rules:
    """An activity competition's rules as stored with the competition."""

    points: tuple[PointRule, ...]
    daily_cap: float | None = None
    daily_goal_verb: str | None = None
    tier_multipliers: Mapping[str, float] | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Rules:
        """Read the `rules` JSON of a competition (validated by the API when it was stored)."""
        facts = ActivityRulesFacts.read(raw)
        return cls(
            points=tuple(
                PointRule(
                    verb=rule.verb,
                    points=rule.points,
                    activity_prefix=rule.activity_prefix,
                    min_scaled_score=rule.min_scaled_score,
                )
                for rule in facts.points
            ),
            daily_cap=facts.daily_cap,
            daily_goal_verb=facts.daily_goal_verb,
            tier_multipliers=facts.tier_multipliers,
        )

    def first_match(
        self, verb: str, activity_id: str | None, scaled_score: float | None
    ) -> PointRule | None:
        """Return the first rule, in the sponsor's order, that the statement meets."""
        if verb == VOIDED_VERB:
            return None
        for rule in self.points:
            if rule.matches(verb, activity_id, scaled_score):
                return rule
        return None

    def multiplier(self, tier: str | None) -> float:
        """Return the tier's multiplier, 1 when the tier is unknown or not listed."""
        if tier is None or not self.tier_multipliers:
            return 1.0
        return float(self.tier_multipliers.get(tier, 1.0))


@dataclass(frozen=True)
class Award:
    """What one statement earns: before the cap (`base`) and after it (`points`)."""

    base: float
    points: float

    @property
    def capped(self) -> bool:
        """Tell whether the daily cap cut this award."""
        return self.points < self.base


def award(rule: PointRule, multiplier: float, used_today: float, daily_cap: float | None) -> Award:
    """Return the points a matching statement earns given what its local day already holds."""
    base = round(rule.points * multiplier, POINT_DECIMALS)
    if daily_cap is None:
        return Award(base, base)
    room = max(0.0, daily_cap - used_today)
    return Award(base, round(min(base, room), POINT_DECIMALS))


def period_days(period: Period, day: date) -> tuple[date, date] | None:
    """Return the first and last local day of the period holding `day` (None for `all`)."""
    start = period_start(period, day)
    if start is None:
        return None
    if period == "day":
        return start, start
    if period == "week":
        return start, start + timedelta(days=6)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, following - timedelta(days=1)


def boards_of_day(day: date) -> list[tuple[Period, date | None]]:
    """Return every board (period, start) a statement on local board day `day` appears on."""
    return [(period, period_start(period, day)) for period in PERIODS]


@dataclass(frozen=True)
class Standing:
    """A participant's totals on one board, summed from the points ledger."""

    user_id: uuid.UUID
    score: float
    statements: int
    #: The latest statement that earned points: when the current total was reached.
    reached_at: datetime


@dataclass(frozen=True)
class BoardEntry:
    """One participant's line on an activity board."""

    user_id: uuid.UUID
    rank: int
    score: float
    statements: int
    last_statement_at: datetime


def rank_points(standings: Iterable[Standing]) -> list[BoardEntry]:
    """Rank participants: more points first, ties to who reached the total first; ranks 1..N.

    Every contribution is positive, so a total is reached at its latest
    contributing statement. The user id only makes the order total.
    """
    ordered = sorted(
        standings, key=lambda s: (-round(s.score, POINT_DECIMALS), s.reached_at, str(s.user_id))
    )
    return [
        BoardEntry(
            user_id=s.user_id,
            rank=position,
            score=round(s.score, POINT_DECIMALS),
            statements=s.statements,
            last_statement_at=s.reached_at,
        )
        for position, s in enumerate(ordered, start=1)
    ]

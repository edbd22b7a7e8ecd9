"""Request and response models of the competitions internal API (SPEC §5.2, §7.3)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from podium_contracts.codes import JoinRejection, SubmissionRefusal
from podium_runtime.timezones import is_iana_zone
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

Kind = Literal["prediction", "activity"]
Status = Literal["draft", "active", "ended", "canceled"]
Visibility = Literal["public", "private"]
Metric = Literal["auc_roc", "log_loss", "accuracy", "f1", "rmse", "mae", "r2"]

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")


def _check_iri(value: str) -> str:
    if not _IRI.match(value):
        raise ValueError("must be an absolute IRI (scheme:...)")
    return value


def _check_timezone(value: str) -> str:
    if not is_iana_zone(value):
        raise ValueError(f"unknown IANA time zone: {value!r}")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


IRI = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_check_iri)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_timezone)]
UtcInstant = Annotated[AwareDatetime, AfterValidator(_to_utc)]
#: Most tiers an activity competition may weigh differently (SPEC §7.3 names three).
MAX_TIERS = 20
TierName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=20_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointRule(_Strict):
    """One way to earn points: a verb, optionally an activity prefix and a minimum score."""

    verb: IRI
    activity_prefix: IRI | None = None
    points: float = Field(gt=0, le=1_000_000)
    min_scaled_score: float | None = Field(default=None, ge=-1, le=1)


class ActivityRules(_Strict):
    """Point rules of an activity competition (SPEC §7.3)."""

    points: list[PointRule] = Field(min_length=1, max_length=100)
    daily_cap: float | None = Field(default=None, gt=0)
    daily_goal_verb: IRI | None = None
    # Bounded: the rules travel inside competition events, which Kafka caps at 1 MiB.
    tier_multipliers: dict[TierName, Annotated[float, Field(gt=0, le=100)]] | None = Field(
        default=None, max_length=MAX_TIERS
    )


class _KindFields(_Strict):
    """Checks shared by create and the merged result of an update."""

    @staticmethod
    def check_kind_fields(kind: str, values: dict[str, Any]) -> None:
        """Prediction needs a metric and no rules; activity needs rules and no metric."""
        if kind == "prediction":
            if values.get("rules") is not None:
                raise ValueError("rules belong to activity competitions")
            if values.get("metric") is None:
                raise ValueError("a prediction competition needs a metric")
        else:
            for name in ("metric", "daily_submission_limit", "public_fraction"):
                if values.get(name) is not None:
                    raise ValueError(f"{name} belongs to prediction competitions")
            if values.get("rules") is None:
                raise ValueError("an activity competition needs rules")


class CompetitionCreate(_KindFields):
    """What a sponsor sends to create a competition."""

    kind: Kind
    title: Title
    description: Description = ""
    visibility: Visibility = "public"
    status: Literal["draft", "active"] = "draft"
    starts_at: UtcInstant
    ends_at: UtcInstant
    timezone: TimeZone = "UTC"
    max_participants: int | None = Field(default=None, ge=1, le=1_000_000)
    late_join: bool = False
    metric: Metric | None = None
    daily_submission_limit: int | None = Field(default=None, ge=1, le=1000)
    public_fraction: float | None = Field(default=None, gt=0, lt=1)
    rules: ActivityRules | None = None
    team_size_limit: int | None = Field(default=None, ge=1, le=1000)
    team_merge_deadline: UtcInstant | None = None
    final_submissions_limit: int = Field(default=2, ge=1, le=100)
    data_public: bool = False
    join_approval: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> CompetitionCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        self.check_kind_fields(self.kind, self.model_dump())
        if self.kind == "prediction":
            # Defaults in the spirit of Kaggle: a few submissions a day, a small public board.
            if self.daily_submission_limit is None:
                self.daily_submission_limit = 5
            if self.public_fraction is None:
                self.public_fraction = 0.3
        return self


class CompetitionUpdate(_Strict):
    """A partial change by the owner or an admin; `kind` never changes."""

    title: Title | None = None
    description: Description | None = None
    visibility: Visibility | None = None
    status: Status | None = None
    starts_at: UtcInstant | None = None
    ends_at: UtcInstant | None = None
    timezone: TimeZone | None = None
    max_participants: int | None = Field(default=None, ge=1, le=1_000_000)
    late_join: bool | None = None
    metric: Metric | None = None
    daily_submission_limit: int | None = Field(default=None, ge=1, le=1000)
    public_fraction: float | None = Field(default=None, gt=0, lt=1)
    rules: ActivityRules | None = None
    team_size_limit: int | None = Field(default=None, ge=1, le=1000)
    team_merge_deadline: UtcInstant | None = None
    final_submissions_limit: int | None = Field(default=None, ge=1, le=100)
    data_public: bool | None = None
    join_approval: bool | None = None


Phase = Literal["upcoming", "running", "ended"]


class Viewer(BaseModel):
    """How the caller relates to a competition (SPEC §5.2)."""

    role: Literal["viewer", "participant", "sponsor"]
    enrolled_at: datetime | None = None
    best_score: float | None = None
    rank: int | None = None
    submissions_today: int | None = None
    submissions_limit: int | None = None
    #: The caller's team in this competition; null for a solo participant (a team of one).
    team_id: uuid.UUID | None = None


class Competition(BaseModel):
    """A competition as callers see it; `invite_code` only for the owner and admins."""

    id: uuid.UUID
    owner_id: uuid.UUID
    kind: Kind
    title: str
    description: str
    visibility: Visibility
    status: Status
    #: Computed from status and the window: upcoming before `starts_at`, ended after
    #: `ends_at` (or once ended or canceled), running in between.
    phase: Phase
    starts_at: datetime
    ends_at: datetime
    timezone: str
    max_participants: int | None
    participants: int
    late_join: bool
    metric: Metric | None
    daily_submission_limit: int | None
    public_fraction: float | None
    rules: dict[str, Any] | None
    team_size_limit: int | None = None
    team_merge_deadline: datetime | None = None
    final_submissions_limit: int = 2
    #: Anyone may download the data files (public competitions only).
    data_public: bool = False
    #: Joins wait as `pending` until the owner accepts or rejects them.
    join_approval: bool = False
    invite_code: str | None = None
    created_at: datetime
    updated_at: datetime
    viewer: Viewer | None = None


class CompetitionPage(BaseModel):
    """One page of competitions and the cursor of the next one."""

    items: list[Competition]
    next_cursor: str | None


class Enrollment(BaseModel):
    """The caller's enrollment in one competition."""

    competition_id: uuid.UUID
    user_id: uuid.UUID
    status: Literal["pending", "accepted", "rejected", "left"]
    reason: str | None
    request_id: uuid.UUID | None
    enrolled_at: datetime | None
    updated_at: datetime


class Participant(BaseModel):
    """One roster entry: display name only, never an e-mail; the user id for the owner only."""

    user_id: uuid.UUID | None = None
    display_name: str
    enrolled_at: datetime | None


class ParticipantPage(BaseModel):
    """One page of the roster."""

    items: list[Participant]
    total: int
    next_cursor: str | None


class JoinTargetOut(BaseModel):
    """Which competition a join request (by id or invite code) is aimed at."""

    competition_id: uuid.UUID


class SubmitEligibility(BaseModel):
    """Whether the caller may upload a prediction now, and the competition as they see it.

    A refusal names its contract code (`SubmissionRefusal`), the HTTP status the
    upload answers with, and a sentence for the person.
    """

    allowed: bool
    code: SubmissionRefusal | None = None
    status: int | None = None
    detail: str | None = None
    competition: Competition


class JoinEligibility(BaseModel):
    """Whether the caller's join would be accepted now (`code`: the `JoinRejection` if not)."""

    competition_id: uuid.UUID
    allowed: bool
    code: JoinRejection | None = None
    #: Already a participant: joining again is accepted and changes nothing.
    enrolled: bool = False
    #: The owner approves joins (SPEC §10.2): the join would wait as `pending`.
    needs_approval: bool = False


class Stats(BaseModel):
    """Owner statistics of a competition."""

    competition_id: uuid.UUID
    participants: int
    max_participants: int | None
    rejected_requests: int
    left: int
    rejections_by_reason: dict[str, int]
    joins_per_day: list[dict[str, Any]]
    submissions_per_day: list[dict[str, Any]]
    score_distribution: list[dict[str, Any]]

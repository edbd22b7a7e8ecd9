"""Named documents of the relayed competition and notification answers (OpenAPI, SPEC §5).

These are the gateway's own contract, not copies to be shared. The competitions
service, scoring and the notifier validate and produce these shapes on their
internal APIs (SPEC §6), which may change with their service; the public API is
fixed by the SPEC and is what typed clients (the web app's among them) are
generated from. So the public shape is stated here, at the boundary, and a
service's internal schema is not imported (services do not import each other,
`tests/architecture`) nor moved to `podium_contracts`, which carries events,
read models and Redis keys, not request and answer bodies. That the two agree is
tested, not assumed: `tests/security/test_openapi_fuzz.py` checks the answers
the running services give through the gateway against these documents as
`/openapi.json` serves them.
Request bodies check only types and enum values at the edge; the owning service
applies every other rule. `account_schemas.py` and `rewards_api.py` state the
account and rewards documents the same way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["prediction", "activity"]
Visibility = Literal["public", "private"]
Status = Literal["draft", "active", "ended", "canceled"]
Metric = Literal["auc_roc", "log_loss", "accuracy", "f1", "rmse", "mae", "r2"]


class PointRule(BaseModel):
    """Points for statements with `verb` (and optionally an activity id prefix), SPEC §7.3."""

    verb: str = Field(description="Verb IRI")
    activity_prefix: str | None = None
    points: float
    min_scaled_score: float | None = None


class ActivityRules(BaseModel):
    """How an activity competition turns statements into points (SPEC §7.3)."""

    points: list[PointRule]
    daily_cap: float | None = None
    daily_goal_verb: str | None = None
    tier_multipliers: dict[str, float] | None = None


class CompetitionCreate(BaseModel):
    """Body of `POST /v1/competitions`; fields of the other kind must be absent."""

    # Fields the competitions service adds are passed through to it.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "kind": "prediction",
                    "title": "Customer churn",
                    "metric": "auc_roc",
                    "starts_at": "2026-03-01T00:00:00Z",
                    "ends_at": "2026-04-01T00:00:00Z",
                    "timezone": "America/New_York",
                    "max_participants": 500,
                }
            ]
        },
    )

    kind: Kind
    title: str
    description: str | None = Field(default=None, description="Markdown")
    visibility: Visibility | None = None
    status: Literal["draft", "active"] | None = None
    starts_at: str = Field(description="RFC 3339 instant with offset")
    ends_at: str = Field(description="RFC 3339 instant with offset")
    timezone: str | None = Field(default=None, description="IANA time zone")
    max_participants: int | None = None
    late_join: bool | None = None
    metric: Metric | None = Field(default=None, description="prediction only")
    daily_submission_limit: int | None = Field(default=None, description="prediction only")
    public_fraction: float | None = Field(default=None, description="prediction only")
    rules: ActivityRules | None = Field(default=None, description="activity only")


class CompetitionUpdate(BaseModel):
    """Body of `PATCH /v1/competitions/{id}`; absent fields stay as they are."""

    model_config = ConfigDict(extra="allow")

    title: str | None = None
    description: str | None = None
    visibility: Visibility | None = None
    status: Status | None = Field(
        default=None, description="draft→active→ended, draft|active→canceled"
    )
    starts_at: str | None = None
    ends_at: str | None = None
    timezone: str | None = None
    max_participants: int | None = None
    late_join: bool | None = None
    metric: Metric | None = None
    daily_submission_limit: int | None = None
    public_fraction: float | None = None
    rules: ActivityRules | None = None


class Viewer(BaseModel):
    """The caller's relation to a competition."""

    role: Literal["viewer", "participant", "sponsor"]
    enrolled_at: datetime | None = None
    best_score: float | None = None
    rank: int | None = None
    submissions_today: int | None = None
    submissions_limit: int | None = None


class Competition(BaseModel):
    """A competition as its readers see it."""

    id: uuid.UUID
    owner_id: uuid.UUID
    kind: Kind
    title: str
    description: str
    visibility: Visibility
    status: Status
    starts_at: datetime
    ends_at: datetime
    timezone: str
    max_participants: int | None
    participants: int
    late_join: bool
    metric: Metric | None
    daily_submission_limit: int | None
    public_fraction: float | None
    rules: ActivityRules | None
    invite_code: str | None = Field(default=None, description="owner only, private only")
    created_at: datetime
    updated_at: datetime
    viewer: Viewer | None = None


class CompetitionPage(BaseModel):
    """One page of competitions, newest first."""

    items: list[Competition]
    next_cursor: str | None


class Participant(BaseModel):
    """A roster entry (display names only)."""

    #: Only the owner and admins see user ids (to remove a participant); others get null.
    user_id: uuid.UUID | None = None
    display_name: str
    enrolled_at: datetime | None


class ParticipantPage(BaseModel):
    """One page of the roster."""

    items: list[Participant]
    total: int
    next_cursor: str | None


class JoinsOnDay(BaseModel):
    """Participants accepted on one UTC day."""

    date: str = Field(description="YYYY-MM-DD (UTC)")
    joins: int


class SubmissionsOnDay(BaseModel):
    """Submissions received on one UTC day."""

    date: str = Field(description="YYYY-MM-DD (UTC)")
    submissions: int


class ScoreBucket(BaseModel):
    """Best scores per participant falling in `[low, high)` (the last bucket includes `high`)."""

    low: float
    high: float
    count: int


class Stats(BaseModel):
    """Owner statistics of a competition."""

    competition_id: uuid.UUID
    participants: int
    max_participants: int | None
    rejected_requests: int
    left: int
    rejections_by_reason: dict[str, int]
    joins_per_day: list[JoinsOnDay]
    submissions_per_day: list[SubmissionsOnDay]
    score_distribution: list[ScoreBucket]


class Notification(BaseModel):
    """One notification of the caller's inbox."""

    id: uuid.UUID
    seq: int
    type: str
    title: str
    body: str
    link: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    """One page of the inbox, newest first, with the unread count."""

    items: list[Notification]
    next_cursor: str | None
    unread_count: int


class Preferences(BaseModel):
    """Per notification type, per channel (`in_app`, `email`)."""

    preferences: dict[str, dict[str, bool]]
    mandatory: list[str] = Field(default_factory=list, description="Types that cannot be muted")


class InvalidationAccepted(BaseModel):
    """The 202 answer to an invalidation: the board recomputes asynchronously."""

    id: uuid.UUID
    status: Literal["invalidated"]


class RescoreAccepted(BaseModel):
    """The 202 answer to a rescore request."""

    competition_id: uuid.UUID
    status: Literal["queued"]


class AnswerKeyAccepted(BaseModel):
    """The 202 answer to an answer-key upload: scoring loads it asynchronously."""

    competition_id: uuid.UUID
    sha256: str
    size_bytes: int
    status: Literal["processing"]


class FileErrorDocument(BaseModel):
    """One problem of an uploaded file (SPEC §7.1 codes)."""

    code: str
    message: str
    column: str | None = None
    rows: list[str] = Field(default_factory=list)
    count: int | None = None


class AnswerKeyState(BaseModel):
    """Whether a competition's answer key loaded, and why not."""

    competition_id: uuid.UUID
    status: Literal["ready", "invalid"]
    sha256: str
    rows: int | None
    id_column: str | None
    target_column: str | None
    public_fraction: float
    errors: list[FileErrorDocument]
    loaded_at: datetime

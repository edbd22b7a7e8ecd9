"""Every Podium event: frozen pydantic models with `type` and `version` literals (SPEC §4).

Each class says when it is emitted; its topic is declared with `@register`.
Contracts share facts, not internal models: only what consumers need.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import AwareDatetime, Discriminator, Field, Tag, TypeAdapter, ValidationError

from podium_contracts.envelope import Event, EventData
from podium_contracts.rules import ActivityRulesFacts
from podium_contracts.topics import (
    COMPETITIONS,
    ENROLLMENTS,
    IDENTITY_USERS,
    JOINS,
    LEADERBOARDS,
    LEARNING,
    POINTS,
    REWARDS,
    SCORES,
    SUBMISSIONS,
    XAPI_STATEMENTS,
    register,
    registered_events,
)

# --- identity -----------------------------------------------------------------


class UserData(EventData):
    """Public profile facts other services keep copies of."""

    user_id: uuid.UUID
    email: str
    display_name: str
    timezone: str
    role: Literal["user", "admin"] = "user"


@register(IDENTITY_USERS)
class UserRegistered(Event):
    """Emitted when a new account is created."""

    type: Literal["user.registered"] = "user.registered"
    version: Literal[1] = 1
    data: UserData


@register(IDENTITY_USERS)
class UserUpdated(Event):
    """Emitted when a user's profile (name, timezone, e-mail, role) changes."""

    type: Literal["user.updated"] = "user.updated"
    version: Literal[1] = 1
    data: UserData


class UserDeletedData(EventData):
    """Who was erased; the e-mail lets services erase what they keep by address (mbox)."""

    user_id: uuid.UUID
    email: str


@register(IDENTITY_USERS)
class UserDeleted(Event):
    """Emitted when an account is erased: every service erases or anonymises its data."""

    type: Literal["user.deleted"] = "user.deleted"
    version: Literal[1] = 1
    data: UserDeletedData


class DataExportData(EventData):
    """A user's personal-data archive, ready for them to download until `expires_at`."""

    user_id: uuid.UUID
    export_id: uuid.UUID
    expires_at: AwareDatetime


@register(IDENTITY_USERS)
class DataExportReady(Event):
    """Emitted by the gateway when a personal-data export is built (SPEC §10.5, ADR 0058)."""

    type: Literal["user.data_export_ready"] = "user.data_export_ready"
    version: Literal[1] = 1
    data: DataExportData


class UserTokenData(EventData):
    """A single-use token the notifier delivers by e-mail."""

    user_id: uuid.UUID
    email: str
    display_name: str
    token: str
    expires_at: AwareDatetime


@register(IDENTITY_USERS)
class UserEmailVerificationRequested(Event):
    """Emitted when a verification e-mail must be sent (at registration or on request)."""

    type: Literal["user.email_verification_requested"] = "user.email_verification_requested"
    version: Literal[1] = 1
    data: UserTokenData


@register(IDENTITY_USERS)
class UserPasswordResetRequested(Event):
    """Emitted when a user asked to reset a forgotten password."""

    type: Literal["user.password_reset_requested"] = "user.password_reset_requested"
    version: Literal[1] = 1
    data: UserTokenData


# --- competitions -------------------------------------------------------------

CompetitionKind = Literal["prediction", "activity"]
CompetitionStatus = Literal["draft", "active", "ended", "canceled"]
MetricName = Literal["auc_roc", "log_loss", "accuracy", "f1", "rmse", "mae", "r2"]


class CompetitionData(EventData):
    """The state of a competition after a change (a state-carrying fact)."""

    competition_id: uuid.UUID
    owner_id: uuid.UUID
    kind: CompetitionKind
    title: str
    visibility: Literal["public", "private"]
    status: CompetitionStatus
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: str
    max_participants: int | None = None
    late_join: bool = False
    metric: MetricName | None = None
    daily_submission_limit: int | None = None
    public_fraction: float | None = None
    rules: dict[str, Any] | None = None

    def activity_rules(self) -> ActivityRulesFacts:
        """Return the typed activity rules (empty for a prediction competition)."""
        return ActivityRulesFacts.read(self.rules)


@register(COMPETITIONS)
class CompetitionCreated(Event):
    """Emitted when a sponsor creates a competition."""

    type: Literal["competition.created"] = "competition.created"
    version: Literal[1] = 1
    data: CompetitionData


@register(COMPETITIONS)
class CompetitionUpdated(Event):
    """Emitted when a competition's settings or status change."""

    type: Literal["competition.updated"] = "competition.updated"
    version: Literal[1] = 1
    data: CompetitionData


class AnswerKeyData(EventData):
    """Where the new answer key lies in the blob store."""

    competition_id: uuid.UUID
    blob_key: str
    sha256: str
    uploaded_by: uuid.UUID


@register(COMPETITIONS)
class AnswerKeyUploaded(Event):
    """Emitted when the owner uploads (or replaces) a competition's answer key."""

    type: Literal["competition.answer_key_uploaded"] = "competition.answer_key_uploaded"
    version: Literal[1] = 1
    data: AnswerKeyData


class RescoreData(EventData):
    """Who asked to rescore which competition."""

    competition_id: uuid.UUID
    requested_by: uuid.UUID


@register(COMPETITIONS)
class RescoreRequested(Event):
    """Emitted when the owner asks to rescore every submission against the current key."""

    type: Literal["competition.rescore_requested"] = "competition.rescore_requested"
    version: Literal[1] = 1
    data: RescoreData


class AnnouncementData(EventData):
    """A sponsor's message to every participant of a competition."""

    competition_id: uuid.UUID
    announcement_id: uuid.UUID
    subject: str
    body: str
    posted_by: uuid.UUID


@register(COMPETITIONS)
class AnnouncementPosted(Event):
    """Emitted by the gateway when a competition's owner posts an announcement (SPEC §10.2)."""

    type: Literal["competition.announcement_posted"] = "competition.announcement_posted"
    version: Literal[1] = 1
    data: AnnouncementData


# --- joins and enrollments ----------------------------------------------------


class JoinData(EventData):
    """A participant's request to join a competition."""

    request_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    invite_code: str | None = None


@register(JOINS)
class JoinRequested(Event):
    """Emitted by the gateway when a user asks to join a competition (a command)."""

    type: Literal["join.requested"] = "join.requested"
    version: Literal[1] = 1
    data: JoinData


class EnrollmentData(EventData):
    """The outcome of a join request, or a participant leaving."""

    competition_id: uuid.UUID
    user_id: uuid.UUID
    request_id: uuid.UUID | None = None
    reason: str | None = None


@register(ENROLLMENTS)
class EnrollmentAccepted(Event):
    """Emitted when a join request is accepted."""

    type: Literal["enrollment.accepted"] = "enrollment.accepted"
    version: Literal[1] = 1
    data: EnrollmentData


@register(ENROLLMENTS)
class EnrollmentRejected(Event):
    """Emitted when a join request is refused; `reason` holds a stable code."""

    type: Literal["enrollment.rejected"] = "enrollment.rejected"
    version: Literal[1] = 1
    data: EnrollmentData


@register(ENROLLMENTS)
class EnrollmentLeft(Event):
    """Emitted when a participant leaves a competition."""

    type: Literal["enrollment.left"] = "enrollment.left"
    version: Literal[1] = 1
    data: EnrollmentData


# --- teams (SPEC §10.2) ----------------------------------------------------------


class TeamJoinData(EventData):
    """A user's request to join a team by its invite link (and the competition with it)."""

    request_id: uuid.UUID
    competition_id: uuid.UUID
    team_id: uuid.UUID
    user_id: uuid.UUID
    invite_code: str


@register(JOINS)
class TeamJoinRequested(Event):
    """Emitted by the gateway when a user follows a team's invite link (a command).

    Keyed by competition like `join.requested`, so team joins and competition joins
    of one competition are decided one after the other: capacity stays exact.
    """

    type: Literal["team.join_requested"] = "team.join_requested"
    version: Literal[1] = 1
    data: TeamJoinData


class TeamMergeData(EventData):
    """A team member's request to merge their team into another team."""

    request_id: uuid.UUID
    competition_id: uuid.UUID
    team_id: uuid.UUID
    into_team_id: uuid.UUID
    #: The member who asked.
    user_id: uuid.UUID


@register(JOINS)
class TeamMergeRequested(Event):
    """Emitted by the gateway when a member asks to merge their team into another (a command)."""

    type: Literal["team.merge_requested"] = "team.merge_requested"
    version: Literal[1] = 1
    data: TeamMergeData


class TeamData(EventData):
    """A team as it is after a change: its members and what changed."""

    competition_id: uuid.UUID
    team_id: uuid.UUID
    name: str
    members: list[uuid.UUID]
    change: Literal["created", "joined", "merged", "removed"]
    request_id: uuid.UUID | None = None
    #: The team that disappeared into this one (`merged`).
    merged_team_id: uuid.UUID | None = None


@register(ENROLLMENTS)
class TeamChanged(Event):
    """Emitted when a team is created, gains members (join or merge) or loses one."""

    type: Literal["team.changed"] = "team.changed"
    version: Literal[1] = 1
    data: TeamData


class TeamRequestRejectedData(EventData):
    """Why a team join or merge was refused; `reason` is a `TeamRejection` code."""

    request_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    reason: str


@register(ENROLLMENTS)
class TeamRequestRejected(Event):
    """Emitted when a team join or merge request is refused."""

    type: Literal["team.request_rejected"] = "team.request_rejected"
    version: Literal[1] = 1
    data: TeamRequestRejectedData


# --- submissions and scores -----------------------------------------------------


class SubmissionReceivedData(EventData):
    """A prediction file accepted by the gateway, stored by reference."""

    submission_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    blob_key: str
    sha256: str
    size_bytes: int
    submitted_at: AwareDatetime


@register(SUBMISSIONS)
class SubmissionReceived(Event):
    """Emitted by the gateway when a participant uploads a prediction file."""

    type: Literal["submission.received"] = "submission.received"
    version: Literal[1] = 1
    data: SubmissionReceivedData


class SubmissionInvalidatedData(EventData):
    """The owner's decision to take a submission off the board."""

    submission_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    invalidated_by: uuid.UUID


@register(SUBMISSIONS)
class SubmissionInvalidated(Event):
    """Emitted when the owner invalidates a submission."""

    type: Literal["submission.invalidated"] = "submission.invalidated"
    version: Literal[1] = 1
    data: SubmissionInvalidatedData


class ScoredData(EventData):
    """The scores of one submission."""

    submission_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    metric: MetricName
    higher_is_better: bool
    public_score: float
    private_score: float
    submitted_at: AwareDatetime
    scored_at: AwareDatetime


@register(SCORES)
class SubmissionScored(Event):
    """Emitted when a submission was validated and scored (also after a rescore)."""

    type: Literal["submission.scored"] = "submission.scored"
    version: Literal[1] = 1
    data: ScoredData


class SubmissionError(EventData):
    """One validation problem of a submission file (SPEC §7.1)."""

    code: str
    message: str
    column: str | None = None
    rows: list[str] = Field(default_factory=list)
    count: int | None = None


class RejectedData(EventData):
    """Why a submission could not be scored."""

    submission_id: uuid.UUID
    competition_id: uuid.UUID
    user_id: uuid.UUID
    errors: list[SubmissionError]
    submitted_at: AwareDatetime


@register(SCORES)
class SubmissionRejected(Event):
    """Emitted when a submission fails validation or cannot be scored."""

    type: Literal["submission.rejected"] = "submission.rejected"
    version: Literal[1] = 1
    data: RejectedData


# --- xAPI and learning ----------------------------------------------------------


class StatementsData(EventData):
    """Statements accepted by the LRS for one actor, as stored (ids, stored, authority set)."""

    actor: str
    lrs_client_id: uuid.UUID
    statements: list[dict[str, Any]]


@register(XAPI_STATEMENTS)
class StatementsReceived(Event):
    """Emitted by the gateway once xAPI statements are accepted."""

    type: Literal["xapi.statements.received"] = "xapi.statements.received"
    version: Literal[1] = 1
    data: StatementsData


class LearningData(EventData):
    """A flattened learning fact derived from one statement."""

    actor: str
    statement_id: uuid.UUID
    user_id: uuid.UUID | None = None
    verb: str
    activity_id: str | None = None
    timestamp: AwareDatetime
    scaled_score: float | None = None
    success: bool | None = None
    completion: bool | None = None
    voided: bool = False
    #: The LRS client that posted the statement (for a voided one: the voiding statement);
    #: activity points count only from clients the competition trusts (ADR 0054).
    lrs_client_id: uuid.UUID | None = None


@register(LEARNING)
class StatementRecorded(Event):
    """Emitted by ingest, one per statement, before `learning.statements_recorded`.

    No longer produced; consumers still accept it, as events of it may be in flight.
    """

    type: Literal["learning.statement_recorded"] = "learning.statement_recorded"
    version: Literal[1] = 1
    data: LearningData


class LearningBatchData(EventData):
    """The learning facts of one actor's statements, in the order ingest recorded them."""

    actor: str
    facts: list[LearningData] = Field(min_length=1)


@register(LEARNING)
class StatementsRecorded(Event):
    """Emitted by ingest for an accepted batch: one per received event and actor (ADR 0068).

    Carries each stored and flattened (or voided) statement's fact, as
    `learning.statement_recorded` did one by one; consumers handle the facts in order.
    """

    type: Literal["learning.statements_recorded"] = "learning.statements_recorded"
    version: Literal[1] = 1
    data: LearningBatchData


# --- leaderboards -------------------------------------------------------------


class RankChangedData(EventData):
    """A participant's rank moved on a board."""

    competition_id: uuid.UUID
    user_id: uuid.UUID
    split: Literal["public", "private"] = "public"
    period: Literal["all", "day", "week", "month"] = "all"
    old_rank: int | None
    new_rank: int | None
    score: float | None


@register(LEADERBOARDS)
class RankChanged(Event):
    """Emitted when a participant's rank on a leaderboard changes."""

    type: Literal["leaderboard.rank_changed"] = "leaderboard.rank_changed"
    version: Literal[1] = 1
    data: RankChangedData


# --- points and rewards ---------------------------------------------------------


class PointsData(EventData):
    """One change of a participant's activity points in one competition, for one statement."""

    user_id: uuid.UUID
    competition_id: uuid.UUID
    statement_id: uuid.UUID
    #: Points as awarded on the board (tier multipliers may leave decimals); always > 0.
    points: float
    occurred_at: AwareDatetime


@register(POINTS)
class PointsAwarded(Event):
    """Emitted by competitions when a statement earned a participant activity points."""

    type: Literal["points.awarded"] = "points.awarded"
    version: Literal[1] = 1
    data: PointsData


@register(POINTS)
class PointsRevoked(Event):
    """Emitted by competitions when a statement's points were taken back (it was voided)."""

    type: Literal["points.revoked"] = "points.revoked"
    version: Literal[1] = 1
    data: PointsData


FulfillmentChange = Literal["won", "reminder", "shipped", "delivered", "forfeited"]


class FulfillmentData(EventData):
    """A winner's prize after a change, with what a notification needs (never the address)."""

    fulfillment_id: uuid.UUID
    user_id: uuid.UUID
    drawing_id: uuid.UUID
    drawing_name: str
    prize_rank: int
    prize_name: str
    kind: Literal["physical", "digital"]
    status: Literal["awaiting_address", "address_confirmed", "shipped", "delivered", "forfeited"]
    change: FulfillmentChange
    claim_by: AwareDatetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    #: The code of a digital prize, in the `delivered` change only.
    code: str | None = None


@register(REWARDS)
class FulfillmentUpdated(Event):
    """Emitted by rewards when a prize was won, reminded, shipped, delivered or forfeited."""

    type: Literal["fulfillment.updated"] = "fulfillment.updated"
    version: Literal[1] = 1
    data: FulfillmentData


#: Every event class, in the order declared above: read from the topic registry, so an
#: event is known to the union, the schemas and the consumers by `@register` alone.
ALL_EVENTS: tuple[type[Event], ...] = registered_events()


def _tag(value: Any) -> str:
    """Discriminate envelopes on type and version together."""
    if isinstance(value, dict):
        return f"{value.get('type')}@{value.get('version')}"
    return f"{value.type}@{value.version}"


def _event_tag(cls: type[Event]) -> str:
    return f"{cls.model_fields['type'].default}@{cls.model_fields['version'].default}"


#: The discriminated union of every registered event (tag `type@version`).
AnyEvent: Any = Annotated[
    Union[tuple(Annotated[cls, Tag(_event_tag(cls))] for cls in ALL_EVENTS)],  # noqa: UP007
    Discriminator(_tag),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)
#: Each event class by its tag, for `parse_event`'s direct path.
_CLASSES: dict[str, type[Event]] = {_event_tag(cls): cls for cls in ALL_EVENTS}


def parse_event(raw: bytes | str) -> Event:
    """Parse any envelope from JSON; raises `pydantic.ValidationError` on unknown type/version.

    orjson reads the text and the tag picks the class, which then validates the
    parsed value: a third of the time the union's JSON validation takes (its
    discriminator is a Python function, and pydantic builds `Any` values slower
    than orjson). What this path does not take (text orjson refuses, such as
    integers beyond 64 bits; an unknown tag; an invalid event) goes through the
    union, which accepts or raises exactly as before.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    cls = _CLASSES.get(_tag(value)) if isinstance(value, dict) else None
    if cls is not None:
        with contextlib.suppress(ValidationError):
            return cls.model_validate(value)
    event: Event = _ADAPTER.validate_json(raw)
    return event


def known_types() -> set[str]:
    """Return every `type@version` tag this contracts version knows."""
    return {_event_tag(cls) for cls in ALL_EVENTS}

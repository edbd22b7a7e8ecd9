"""Pure notification rules: types, default preferences, rank-change filter, local-time math."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from podium_contracts.codes import JoinRejection, SubmissionErrorCode
from podium_runtime import timezones

Channel = Literal["in_app", "email"]
CHANNELS: tuple[Channel, ...] = ("in_app", "email")

EMAIL_VERIFICATION = "account.email_verification"
PASSWORD_RESET = "account.password_reset"  # noqa: S105 - a type name, not a secret
ENROLLMENT_ACCEPTED = "enrollment.accepted"
ENROLLMENT_REJECTED = "enrollment.rejected"
SUBMISSION_SCORED = "submission.scored"
SUBMISSION_REJECTED = "submission.rejected"
RANK_CHANGED = "leaderboard.rank_changed"
COMPETITION_STARTING = "competition.starting_soon"
COMPETITION_ENDING = "competition.ending_soon"
DAILY_REMINDER = "reminder.daily"
ANNOUNCEMENT = "competition.announcement"
PRIZE = "rewards.prize"
DATA_EXPORT = "account.data_export"

#: Human words for every join-rejection code competitions emits (SPEC §5.2 join rules).
JOIN_REJECTION_WORDS: dict[JoinRejection, str] = {
    JoinRejection.COMPETITION_NOT_FOUND: "the competition does not exist",
    JoinRejection.COMPETITION_NOT_ACTIVE: "the competition is not open",
    JoinRejection.ALREADY_STARTED: "the competition has already started",
    JoinRejection.FULL: "the competition is full",
    JoinRejection.INVALID_INVITE_CODE: "the invite code is not valid",
    JoinRejection.OWNER_CANNOT_JOIN: "owners do not join their own competition",
    JoinRejection.BANNED: "the organiser removed you from this competition",
    JoinRejection.DECLINED: "the organiser declined your request",
}

#: Human words for every submission-error code scoring emits (SPEC §7.1).
SUBMISSION_ERROR_WORDS: dict[SubmissionErrorCode, str] = {
    SubmissionErrorCode.TOO_LARGE: "the file is too large",
    SubmissionErrorCode.NOT_CSV: "the file is not CSV",
    SubmissionErrorCode.EMPTY_FILE: "the file is empty",
    SubmissionErrorCode.EXTRA_COLUMN: "the file has an extra column",
    SubmissionErrorCode.MISSING_COLUMN: "a column is missing",
    SubmissionErrorCode.NOT_A_NUMBER: "a prediction is not a number",
    SubmissionErrorCode.VALUE_OUT_OF_RANGE: "a prediction is out of range",
    SubmissionErrorCode.DUPLICATE_ID: "an id appears twice",
    SubmissionErrorCode.UNKNOWN_IDS: "some ids are not in the answer key",
    SubmissionErrorCode.MISSING_IDS: "some ids of the answer key are missing",
    SubmissionErrorCode.CHECKSUM_MISMATCH: "the stored file does not match its checksum",
    SubmissionErrorCode.ANSWER_KEY_MISSING: "the competition has no answer key yet",
    SubmissionErrorCode.ANSWER_KEY_INVALID: "the answer key is invalid",
    SubmissionErrorCode.COMPETITION_UNKNOWN: "the competition is not known to scoring yet",
    SubmissionErrorCode.NOT_A_PREDICTION_COMPETITION: "the competition takes no files",
    SubmissionErrorCode.METRIC_MISSING: "the competition has no metric",
    SubmissionErrorCode.METRIC_UNDEFINED: "the metric has no value on this file",
    SubmissionErrorCode.SCORING_FAILED: "the scorer failed",
}


def join_rejection_words(reason: str | None) -> str:
    """Say why a join was refused; a code this version does not know is shown as it is."""
    if reason is None:
        return "no reason given"
    try:
        return JOIN_REJECTION_WORDS[JoinRejection(reason)]
    except ValueError:
        return reason


def submission_error_words(code: str) -> str:
    """Say what a submission-error code means, keeping the code for support questions."""
    try:
        return f"{SUBMISSION_ERROR_WORDS[SubmissionErrorCode(code)]} ({code})"
    except ValueError:
        return code


#: Account mails are sent whatever the preferences say: they are how a user gets in.
MANDATORY_TYPES = frozenset({EMAIL_VERIFICATION, PASSWORD_RESET})

#: Defaults per type and channel: everything on, except rank-change e-mails (noisy).
DEFAULT_PREFERENCES: dict[str, dict[Channel, bool]] = {
    ENROLLMENT_ACCEPTED: {"in_app": True, "email": True},
    ENROLLMENT_REJECTED: {"in_app": True, "email": True},
    SUBMISSION_SCORED: {"in_app": True, "email": True},
    SUBMISSION_REJECTED: {"in_app": True, "email": True},
    RANK_CHANGED: {"in_app": True, "email": False},
    COMPETITION_STARTING: {"in_app": True, "email": True},
    COMPETITION_ENDING: {"in_app": True, "email": True},
    DAILY_REMINDER: {"in_app": True, "email": True},
    ANNOUNCEMENT: {"in_app": True, "email": True},
    PRIZE: {"in_app": True, "email": True},
}
CONFIGURABLE_TYPES = tuple(DEFAULT_PREFERENCES)

TOP = 10


def effective_preferences(
    stored: dict[tuple[str, str], bool],
) -> dict[str, dict[Channel, bool]]:
    """Merge a user's stored choices over the defaults into the full matrix."""
    return {
        kind: {channel: stored.get((kind, channel), default) for channel, default in row.items()}
        for kind, row in DEFAULT_PREFERENCES.items()
    }


def rank_change_is_notable(old_rank: int | None, new_rank: int | None) -> bool:
    """True for entering or leaving the top 10 and for any drop (SPEC §7.4); rises are quiet."""
    entered = new_rank is not None and new_rank <= TOP and (old_rank is None or old_rank > TOP)
    left = old_rank is not None and old_rank <= TOP and (new_rank is None or new_rank > TOP)
    dropped = old_rank is not None and new_rank is not None and new_rank > old_rank
    return entered or left or dropped


def rank_change_is_debounced(
    last_notified_at: datetime | None, now: datetime, window: timedelta
) -> bool:
    """True when a rank notice was sent for this board less than `window` ago."""
    return last_notified_at is not None and now - last_notified_at < window


@dataclass(frozen=True)
class LocalDay:
    """One calendar day in a timezone, as the UTC instants that bound it."""

    day: date
    start: datetime
    end: datetime


def local_day(now: datetime, tz: ZoneInfo) -> LocalDay:
    """Return the local day containing `now`; 23 or 25 hours long on DST days (zoneinfo)."""
    today = timezones.local_day(now, tz)
    return LocalDay(today, *timezones.local_day_bounds(today, tz))


def reminder_instant(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """Return the instant of `hour`:00 local on `day` (the first one if the hour repeats)."""
    return datetime.combine(day, time(hour, fold=0), tzinfo=tz).astimezone(UTC)


def reminder_due(now: datetime, tz: ZoneInfo, hour: int) -> LocalDay | None:
    """Return the local day whose reminder is due at `now` (from `hour`:00 to midnight), or None."""
    today = local_day(now, tz)
    if now >= reminder_instant(today.day, hour, tz):
        return today
    return None

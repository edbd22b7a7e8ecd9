"""Stable codes one service emits in an event and another translates (SPEC §5.2, §7.1).

A code is part of the contract: the producer emits a member of these enums and
every consumer that shows it to a person has a translation for each member
(checked by `libs/contracts/tests/test_codes.py`). `StrEnum` members are plain
strings on the wire, so the JSON Schemas of the events do not change.
"""

from __future__ import annotations

from enum import StrEnum


class JoinRejection(StrEnum):
    """Why competitions refused a join request (`enrollment.rejected` `reason`, SPEC §5.2)."""

    COMPETITION_NOT_FOUND = "COMPETITION_NOT_FOUND"
    COMPETITION_NOT_ACTIVE = "COMPETITION_NOT_ACTIVE"
    ALREADY_STARTED = "ALREADY_STARTED"
    FULL = "FULL"
    INVALID_INVITE_CODE = "INVALID_INVITE_CODE"
    OWNER_CANNOT_JOIN = "OWNER_CANNOT_JOIN"
    BANNED = "BANNED"
    DECLINED = "DECLINED"


class SubmissionRefusal(StrEnum):
    """Why competitions says a caller may not upload a prediction now (SPEC §5.3).

    The answer of competitions' eligibility endpoint; the gateway turns it into
    the upload's 403/409 problem with the same code.
    """

    NOT_A_PREDICTION_COMPETITION = "NOT_A_PREDICTION_COMPETITION"
    NOT_ENROLLED = "NOT_ENROLLED"
    COMPETITION_NOT_ACTIVE = "COMPETITION_NOT_ACTIVE"


class TeamRejection(StrEnum):
    """Why competitions refused a team join or merge (`team.request_rejected`, SPEC §10.2)."""

    TEAM_NOT_FOUND = "TEAM_NOT_FOUND"
    TEAM_FULL = "TEAM_FULL"
    TEAMS_FROZEN = "TEAMS_FROZEN"
    ALREADY_IN_TEAM = "ALREADY_IN_TEAM"
    DAILY_LIMIT_EXCEEDED = "DAILY_LIMIT_EXCEEDED"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    SAME_TEAM = "SAME_TEAM"
    NOT_ENROLLED = "NOT_ENROLLED"


class SubmissionErrorCode(StrEnum):
    """Why scoring refused a submission (`submission.rejected` `errors[].code`, SPEC §7.1)."""

    # The file itself (validation of the upload).
    TOO_LARGE = "TOO_LARGE"
    NOT_CSV = "NOT_CSV"
    EMPTY_FILE = "EMPTY_FILE"
    EXTRA_COLUMN = "EXTRA_COLUMN"
    MISSING_COLUMN = "MISSING_COLUMN"
    NOT_A_NUMBER = "NOT_A_NUMBER"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
    DUPLICATE_ID = "DUPLICATE_ID"
    UNKNOWN_IDS = "UNKNOWN_IDS"
    MISSING_IDS = "MISSING_IDS"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    # The competition cannot score anything yet (or at all).
    ANSWER_KEY_MISSING = "ANSWER_KEY_MISSING"
    ANSWER_KEY_INVALID = "ANSWER_KEY_INVALID"
    COMPETITION_UNKNOWN = "COMPETITION_UNKNOWN"
    NOT_A_PREDICTION_COMPETITION = "NOT_A_PREDICTION_COMPETITION"
    METRIC_MISSING = "METRIC_MISSING"
    METRIC_UNDEFINED = "METRIC_UNDEFINED"
    # The scorer failed on its side after its retries.
    SCORING_FAILED = "SCORING_FAILED"

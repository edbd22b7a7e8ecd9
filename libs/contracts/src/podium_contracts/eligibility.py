"""Who may upload a prediction now (SPEC §5.3), defined once for competitions and the gateway.

Competitions answers its eligibility endpoint with these rules from Postgres;
the gateway applies the same rules to the competitions read model when that
holds every fact they need exactly (ADR 0084), so that an upload does not wait
for an internal call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from podium_contracts.codes import SubmissionRefusal


@dataclass(frozen=True)
class Refusal:
    """A refused action: the contract code, the HTTP status to answer with, and why."""

    code: SubmissionRefusal
    status: int
    detail: str


def submission_refusal(
    kind: str,
    status: str,
    starts_at: datetime,
    ends_at: datetime,
    is_participant: bool,
    now: datetime,
) -> Refusal | None:
    """Return why the caller may not upload a prediction now, or None when they may (SPEC §5.3).

    Checked in this order: the kind of competition, the caller's enrollment, then
    the window (an active competition between `starts_at` and `ends_at`).
    """
    if kind != "prediction":
        return Refusal(
            SubmissionRefusal.NOT_A_PREDICTION_COMPETITION,
            409,
            "Only prediction competitions take files; activity ones count xAPI statements.",
        )
    if not is_participant:
        return Refusal(
            SubmissionRefusal.NOT_ENROLLED, 403, "Join the competition before submitting."
        )
    if status != "active" or ends_at <= now:
        return Refusal(
            SubmissionRefusal.COMPETITION_NOT_ACTIVE,
            409,
            "The competition does not take submissions.",
        )
    if starts_at > now:
        return Refusal(
            SubmissionRefusal.COMPETITION_NOT_ACTIVE, 409, "The competition has not started yet."
        )
    return None

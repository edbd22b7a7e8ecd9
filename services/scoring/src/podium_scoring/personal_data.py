"""What scoring holds about a user, for the personal-data export (ADR 0058).

A submission's private score is left out: it is the competition's hidden test,
revealed on the private board after the end, and an export must not be a way
around that (SPEC §5.3). Storage keys are internal.
"""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_scoring.models import submissions

RECORDS = (
    PersonalRecords(
        "submissions",
        submissions,
        exclude=frozenset({"private_score", "blob_key", "answer_key_sha256"}),
    ),
)

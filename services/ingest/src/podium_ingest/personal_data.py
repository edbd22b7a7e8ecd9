"""What ingest holds about a user, for the personal-data export (ADR 0058).

The learning records are the raw statements attributed to the user (their
flattened facts carry the user id), exactly as stored, voided ones included.
"""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_ingest.models import participants, statement_facts, statements, users
from podium_ingest.repository import statements_attributed_to

RECORDS = (
    PersonalRecords("profile", users),
    PersonalRecords("participations", participants),
    PersonalRecords("statement_facts", statement_facts),
    PersonalRecords(
        "statements", statements, exclude=frozenset({"seq"}), where=statements_attributed_to
    ),
)

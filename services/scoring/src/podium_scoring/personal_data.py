"""What scoring holds about a user, for the personal-data export (ADR 0058)."""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_scoring.models import submissions

RECORDS = (PersonalRecords("submissions", submissions),)

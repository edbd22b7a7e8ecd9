"""What the notifier holds about a user, for the personal-data export (ADR 0058)."""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_notifier.models import (
    emails,
    held_emails,
    notifications,
    participants,
    preferences,
    rank_notices,
    statements,
    users,
)

RECORDS = (
    PersonalRecords("profile", users),
    PersonalRecords("preferences", preferences),
    PersonalRecords("notifications", notifications, exclude=frozenset({"seq", "dedupe_key"})),
    PersonalRecords("emails", emails, exclude=frozenset({"dedupe_key"})),
    PersonalRecords("held_emails", held_emails, exclude=frozenset({"dedupe_key"})),
    PersonalRecords("participations", participants),
    PersonalRecords("learning_activity", statements),
    PersonalRecords("rank_notices", rank_notices),
)

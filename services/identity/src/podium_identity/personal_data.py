"""What identity holds about a user, for the personal-data export (ADR 0058)."""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_identity.models import audit_log, lrs_clients, refresh_tokens, users

#: Password and token hashes are left out by `podium_runtime.personal_data`.
RECORDS = (
    PersonalRecords("account", users, column="id"),
    PersonalRecords("sessions", refresh_tokens),
    PersonalRecords("lrs_clients_created", lrs_clients, column="created_by"),
    PersonalRecords("actions_taken", audit_log, column="actor_id"),
)

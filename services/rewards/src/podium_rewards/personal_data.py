"""What rewards holds about a user, for the personal-data export (ADR 0058)."""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_rewards.models import (
    declarations,
    fulfillments,
    ledger,
    point_lots,
    purchases,
    sponsors,
    tickets,
    users,
    wallets,
)

RECORDS = (
    PersonalRecords("profile", users),
    PersonalRecords("sponsorships", sponsors),
    PersonalRecords("wallet", wallets),
    PersonalRecords("point_lots", point_lots),
    PersonalRecords("ledger", ledger),
    PersonalRecords("declarations", declarations),
    PersonalRecords("purchases", purchases),
    PersonalRecords("tickets", tickets),
    PersonalRecords("fulfillments", fulfillments),
)

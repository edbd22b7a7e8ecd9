"""Outbox payloads are kept out of line uncompressed (ADR 0097).

A row may hold a run of events, one JSON document per line; compressing such a row
cost more than inserting it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from podium_runtime.migration_ops import store_outbox_payloads_uncompressed

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    store_outbox_payloads_uncompressed("notifier")


def downgrade() -> None:
    store_outbox_payloads_uncompressed("notifier", uncompressed=False)

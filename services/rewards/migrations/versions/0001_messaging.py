"""Outbox and inbox tables of the rewards service.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from podium_runtime.migration_ops import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables("rewards")


def downgrade() -> None:
    drop_messaging_tables("rewards")

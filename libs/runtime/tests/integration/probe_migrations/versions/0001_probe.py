"""Probe schema: messaging tables and a ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from podium_runtime.migration_ops import create_messaging_tables, drop_messaging_tables
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables("runtime_probe")
    op.create_table(
        "ledger",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("request_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("handled_by", sa.String(50), nullable=False),
        schema="runtime_probe",
    )


def downgrade() -> None:
    op.drop_table("ledger", schema="runtime_probe")
    drop_messaging_tables("runtime_probe")

"""LRS trust for activity points: the trusted clients of each competition (ADR 0054).

Competitions created before this revision keep counting statements from any
LRS client (`any_lrs_client`), so running competitions do not lose points
overnight; their sponsors close them by naming the trusted clients. New
competitions count statements only from the clients their sponsor trusted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"


def upgrade() -> None:
    op.add_column(
        "competitions",
        sa.Column("any_lrs_client", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.execute("UPDATE competitions.competitions SET any_lrs_client = true WHERE kind = 'activity'")
    op.create_table(
        "trusted_lrs_clients",
        sa.Column("competition_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lrs_client_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("trusted_by", UUID(as_uuid=True)),
        sa.Column(
            "trusted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("trusted_lrs_clients", schema=SCHEMA)
    op.drop_column("competitions", "any_lrs_client", schema=SCHEMA)

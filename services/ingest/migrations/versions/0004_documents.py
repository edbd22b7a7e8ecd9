"""xAPI document resources: State, Activity Profile and Agent Profile (docs/adr/0026).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text, nullable=False),
        sa.Column("agent_key", sa.Text, nullable=False),
        sa.Column("registration", sa.Text, nullable=False),
        sa.Column("document_id", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("etag", sa.Text, nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "activity_id", "agent_key", "registration", "document_id", name="pk_documents"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_documents_agent_key", "documents", ["agent_key"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_documents_agent_key", table_name="documents", schema=SCHEMA)
    op.drop_table("documents", schema=SCHEMA)

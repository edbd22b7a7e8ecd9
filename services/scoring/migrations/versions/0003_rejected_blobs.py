"""When a rejected submission's file was deleted from the blob store.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.add_column(
        "submissions",
        sa.Column("blob_deleted_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    # The sweep looks only at rejected submissions whose file is still stored.
    op.create_index(
        "ix_submissions_rejected_blobs",
        "submissions",
        ["scored_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'rejected' AND blob_deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_rejected_blobs", "submissions", schema=SCHEMA)
    op.drop_column("submissions", "blob_deleted_at", schema=SCHEMA)

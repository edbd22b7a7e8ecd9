"""Join approval: a competition setting and the `pending` enrollment status.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"

# The status CHECK of enrollments, whatever name the naming convention gave it.
_DROP_STATUS_CHECK = """
DO $$
DECLARE found text;
BEGIN
  SELECT conname INTO found FROM pg_constraint
  WHERE conrelid = 'competitions.enrollments'::regclass AND contype = 'c'
    AND pg_get_constraintdef(oid) LIKE '%status%';
  IF found IS NOT NULL THEN
    EXECUTE format('ALTER TABLE competitions.enrollments DROP CONSTRAINT %I', found);
  END IF;
END $$;
"""


def upgrade() -> None:
    op.add_column(
        "competitions",
        sa.Column("join_approval", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.execute(_DROP_STATUS_CHECK)
    op.create_check_constraint(
        "ck_enrollments_status",
        "enrollments",
        "status IN ('pending', 'accepted', 'rejected', 'left')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute("DELETE FROM competitions.enrollments WHERE status = 'pending'")
    op.execute(_DROP_STATUS_CHECK)
    op.create_check_constraint(
        "ck_enrollments_status",
        "enrollments",
        "status IN ('accepted', 'rejected', 'left')",
        schema=SCHEMA,
    )
    op.drop_column("competitions", "join_approval", schema=SCHEMA)

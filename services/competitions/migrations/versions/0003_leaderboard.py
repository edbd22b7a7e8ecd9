"""Leaderboard projection: scored submissions and the ranked boards (SPEC §7.2).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"


def upgrade() -> None:
    op.create_table(
        "leaderboard_submissions",
        sa.Column("submission_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("higher_is_better", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("public_score", sa.Float),
        sa.Column("private_score", sa.Float),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True)),
        sa.Column("invalidated", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_leaderboard_submissions_competition_user",
        "leaderboard_submissions",
        ["competition_id", "user_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "leaderboard_entries",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("split", sa.String(10), primary_key=True),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("submission_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("submissions", sa.Integer, nullable=False),
        sa.Column("last_submission_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("split IN ('public', 'private')", name="ck_leaderboard_entries_split"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("leaderboard_entries", schema=SCHEMA)
    op.drop_index(
        "ix_leaderboard_submissions_competition_user",
        table_name="leaderboard_submissions",
        schema=SCHEMA,
    )
    op.drop_table("leaderboard_submissions", schema=SCHEMA)

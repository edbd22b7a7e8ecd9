"""Activity competitions: the points ledger, the ranked `all` board, e-mail and tier of users.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(320)), schema=SCHEMA)
    op.add_column("users", sa.Column("tier", sa.String(50)), schema=SCHEMA)
    op.create_index("ix_users_email", "users", ["email"], schema=SCHEMA)
    op.create_table(
        "activity_points",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("statement_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("verb", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("participant_day", sa.Date, nullable=False),
        sa.Column("board_day", sa.Date, nullable=False),
        sa.Column("base_points", sa.Float, nullable=False),
        sa.Column("points", sa.Float, nullable=False),
        sa.Column("voided", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "points >= 0 AND points <= base_points", name="ck_activity_points_points"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_activity_points_cap",
        "activity_points",
        ["competition_id", "user_id", "participant_day"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_activity_points_board",
        "activity_points",
        ["competition_id", "board_day"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_activity_points_statement", "activity_points", ["statement_id"], schema=SCHEMA
    )
    op.create_table(
        "activity_board",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("statements", sa.Integer, nullable=False),
        sa.Column("last_statement_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("activity_board", schema=SCHEMA)
    op.drop_index("ix_activity_points_statement", table_name="activity_points", schema=SCHEMA)
    op.drop_index("ix_activity_points_board", table_name="activity_points", schema=SCHEMA)
    op.drop_index("ix_activity_points_cap", table_name="activity_points", schema=SCHEMA)
    op.drop_table("activity_points", schema=SCHEMA)
    op.drop_index("ix_users_email", table_name="users", schema=SCHEMA)
    op.drop_column("users", "tier", schema=SCHEMA)
    op.drop_column("users", "email", schema=SCHEMA)

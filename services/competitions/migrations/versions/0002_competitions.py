"""Competitions, enrollments and the users projection.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("owner_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("invite_code", sa.String(64)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("max_participants", sa.Integer),
        sa.Column("participants_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("late_join", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("metric", sa.String(20)),
        sa.Column("daily_submission_limit", sa.Integer),
        sa.Column("public_fraction", sa.Float),
        sa.Column("rules", postgresql.JSONB),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("kind IN ('prediction', 'activity')", name="ck_competitions_kind"),
        sa.CheckConstraint(
            "visibility IN ('public', 'private')", name="ck_competitions_visibility"
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'ended', 'canceled')", name="ck_competitions_status"
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_competitions_window"),
        sa.CheckConstraint(
            "participants_count >= 0 AND "
            "(max_participants IS NULL OR participants_count <= max_participants)",
            name="ck_competitions_capacity",
        ),
        sa.UniqueConstraint("invite_code", name="uq_competitions_invite_code"),
        schema=SCHEMA,
    )
    op.create_index("ix_competitions_owner_id", "competitions", ["owner_id"], schema=SCHEMA)
    op.create_index("ix_competitions_created", "competitions", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_competitions_active_ends_at",
        "competitions",
        ["ends_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "enrollments",
        sa.Column(
            "competition_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.competitions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(50)),
        sa.Column("request_id", postgresql.UUID(as_uuid=True)),
        sa.Column("enrolled_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "status IN ('accepted', 'rejected', 'left')", name="ck_enrollments_status"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_enrollments_user_status", "enrollments", ["user_id", "status"], schema=SCHEMA
    )
    op.create_table(
        "users",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("users", schema=SCHEMA)
    op.drop_table("enrollments", schema=SCHEMA)
    op.drop_table("competitions", schema=SCHEMA)

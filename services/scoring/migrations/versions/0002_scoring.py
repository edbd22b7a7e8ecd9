"""Competitions projection, answer keys and submissions of the scoring service.

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

SCHEMA = "scoring"


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("metric", sa.String(20)),
        sa.Column("public_fraction", sa.Float),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("competition_id", name="pk_competitions"),
        schema=SCHEMA,
    )
    op.create_table(
        "answer_keys",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("public_fraction", sa.Float, nullable=False),
        sa.Column("id_column", sa.String(200)),
        sa.Column("target_column", sa.String(200)),
        sa.Column("rows", sa.Integer),
        sa.Column("errors", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("uploaded_by", postgresql.UUID(as_uuid=True)),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("competition_id", name="pk_answer_keys"),
        sa.CheckConstraint("status IN ('ready', 'invalid')", name="ck_answer_keys_status"),
        schema=SCHEMA,
    )
    op.create_table(
        "submissions",
        sa.Column("submission_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("metric", sa.String(20)),
        sa.Column("public_score", sa.Float),
        sa.Column("private_score", sa.Float),
        sa.Column("errors", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("answer_key_sha256", sa.String(64)),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True)),
        sa.Column("invalidated_at", sa.DateTime(timezone=True)),
        sa.Column("invalidated_by", postgresql.UUID(as_uuid=True)),
        sa.PrimaryKeyConstraint("submission_id", name="pk_submissions"),
        sa.CheckConstraint(
            "status IN ('queued', 'scored', 'rejected')", name="ck_submissions_status"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_submissions_competition_user",
        "submissions",
        ["competition_id", "user_id", "submitted_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_submissions_competition_submitted",
        "submissions",
        ["competition_id", "submitted_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("submissions", schema=SCHEMA)
    op.drop_table("answer_keys", schema=SCHEMA)
    op.drop_table("competitions", schema=SCHEMA)

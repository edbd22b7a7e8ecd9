"""Inbox, e-mail outbox, preferences and the projections the notifier keeps.

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

S = "notifier"
UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("updated_at", TS, nullable=False),
        schema=S,
    )
    op.create_table(
        "preferences",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("notification_type", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        schema=S,
    )
    op.create_table(
        "notifications",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("id", UUID, nullable=False, unique=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("notification_type", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.String(1000)),
        sa.Column("data", postgresql.JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", TS),
        sa.UniqueConstraint("dedupe_key", "user_id", name="uq_notifications_dedupe_user"),
        schema=S,
    )
    op.create_index("ix_notifications_user_seq", "notifications", ["user_id", "seq"], schema=S)
    op.create_table(
        "emails",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("notification_type", sa.String(64), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text_body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TS),
        sa.UniqueConstraint("dedupe_key", "user_id", name="uq_emails_dedupe_user"),
        schema=S,
    )
    op.create_index(
        "ix_emails_due",
        "emails",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "competitions",
        sa.Column("competition_id", UUID, primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("daily_goal_verb", sa.String(1000)),
        sa.Column("updated_at", TS, nullable=False),
        schema=S,
    )
    op.create_table(
        "participants",
        sa.Column("competition_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        schema=S,
    )
    op.create_table(
        "statements",
        sa.Column("statement_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("verb", sa.String(1000), nullable=False),
        sa.Column("timestamp", TS, nullable=False),
        sa.Column("voided", sa.Boolean, nullable=False, server_default="false"),
        schema=S,
    )
    op.create_index(
        "ix_statements_user_verb_time",
        "statements",
        ["user_id", "verb", "timestamp"],
        schema=S,
    )
    op.create_table(
        "rank_notices",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("competition_id", UUID, primary_key=True),
        sa.Column("last_notified_at", TS, nullable=False),
        sa.Column("last_rank", sa.Integer),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "rank_notices",
        "statements",
        "participants",
        "competitions",
        "emails",
        "notifications",
        "preferences",
        "users",
    ):
        op.drop_table(table, schema=S)

"""Disabled accounts and the append-only audit log (ADR 0037).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_id", postgresql.UUID(as_uuid=True)),
        sa.Column("actor_role", sa.String(32)),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target_type", sa.String(50), nullable=False),
        sa.Column("target_id", sa.String(300), nullable=False),
        sa.Column("before", postgresql.JSONB),
        sa.Column("after", postgresql.JSONB),
        sa.Column("request_id", sa.String(200)),
        sa.Column("service", sa.String(50), nullable=False),
        sa.UniqueConstraint("id", name="uq_audit_log_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id", "seq"], schema=SCHEMA)
    op.create_index("ix_audit_log_action", "audit_log", ["action", "seq"], schema=SCHEMA)
    op.create_index(
        "ix_audit_log_target", "audit_log", ["target_type", "target_id", "seq"], schema=SCHEMA
    )
    # Append-only: the database itself refuses to change or remove an entry.
    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
            ON {SCHEMA}.audit_log FOR EACH STATEMENT
            EXECUTE FUNCTION {SCHEMA}.audit_log_append_only()
        """
    )


def downgrade() -> None:
    op.execute(f"DROP TRIGGER audit_log_append_only ON {SCHEMA}.audit_log")
    op.execute(f"DROP FUNCTION {SCHEMA}.audit_log_append_only()")
    op.drop_table("audit_log", schema=SCHEMA)
    op.drop_column("users", "disabled_at", schema=SCHEMA)

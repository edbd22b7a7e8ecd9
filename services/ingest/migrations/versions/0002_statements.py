"""Raw statements and their flattened facts.

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

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("statement", postgresql.JSONB, nullable=False),
        sa.Column("lrs_client_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("stored", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "statement_facts",
        sa.Column("statement_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("actor_key", sa.Text, nullable=False),
        sa.Column("object_agent_key", sa.Text),
        sa.Column("user_id", postgresql.UUID(as_uuid=True)),
        sa.Column("verb_id", sa.Text, nullable=False),
        sa.Column("object_type", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text),
        sa.Column("target_id", postgresql.UUID(as_uuid=True)),
        sa.Column("registration", postgresql.UUID(as_uuid=True)),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scaled_score", sa.Double),
        sa.Column("success", sa.Boolean),
        sa.Column("completion", sa.Boolean),
        sa.Column("duration_seconds", sa.Double),
        sa.Column("is_voiding", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("voided", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    for name, columns in {
        "ix_statement_facts_stored": ["stored", "statement_id"],
        "ix_statement_facts_actor_key": ["actor_key", "stored"],
        "ix_statement_facts_object_agent_key": ["object_agent_key"],
        "ix_statement_facts_verb_id": ["verb_id", "stored"],
        "ix_statement_facts_activity_id": ["activity_id", "stored"],
        "ix_statement_facts_registration": ["registration"],
        "ix_statement_facts_target_id": ["target_id"],
        "ix_statement_facts_user_id": ["user_id", "timestamp"],
    }.items():
        op.create_index(name, "statement_facts", columns, schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("statement_facts", schema=SCHEMA)
    op.drop_table("statements", schema=SCHEMA)

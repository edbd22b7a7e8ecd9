"""Partial indexes on the mostly-NULL columns of `statement_facts` (docs/adr/0087).

Most statements name no agent as object, no registration, no statement as object and
no platform account: those rows no longer enter the four indexes, which every insert
paid for. Every query on these columns compares them with `=`, which implies `IS NOT
NULL`, so the planner uses the partial indexes as it used the full ones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"

#: Index name -> its columns; the first column is the one that is mostly NULL.
INDEXES = {
    "ix_statement_facts_object_agent_key": ["object_agent_key"],
    "ix_statement_facts_registration": ["registration"],
    "ix_statement_facts_target_id": ["target_id"],
    "ix_statement_facts_user_id": ["user_id", "timestamp"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.drop_index(name, "statement_facts", schema=SCHEMA)
        op.create_index(
            name,
            "statement_facts",
            columns,
            schema=SCHEMA,
            postgresql_where=sa.text(f"{columns[0]} IS NOT NULL"),
        )


def downgrade() -> None:
    for name, columns in INDEXES.items():
        op.drop_index(name, "statement_facts", schema=SCHEMA)
        op.create_index(name, "statement_facts", columns, schema=SCHEMA)

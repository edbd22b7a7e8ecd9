"""Incremental boards: each line's place in the order, indexes to find and shift ranks.

A score event moves one line: its new place is found through an index on the
board's order (`order_score`, `best_at`, `submission_id`) and the lines it
passed shift by one through an index on `rank` (ADR 0044). `leaderboard_boards`
holds each board's version (`as_of`), which guards the Redis mirror's deltas.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"

# Existing lines take their order from their best submission.
_BACKFILL = """
UPDATE competitions.leaderboard_entries AS e
SET order_score = CASE WHEN s.higher_is_better THEN -e.score ELSE e.score END,
    best_at = s.submitted_at
FROM competitions.leaderboard_submissions AS s
WHERE s.submission_id = e.submission_id
"""


def upgrade() -> None:
    op.add_column("leaderboard_entries", sa.Column("order_score", sa.Float), schema=SCHEMA)
    op.add_column(
        "leaderboard_entries",
        sa.Column("best_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.execute(_BACKFILL)
    # A line whose best submission is gone cannot be placed: the next rebuild ranks it.
    op.execute(
        "DELETE FROM competitions.leaderboard_entries WHERE order_score IS NULL OR best_at IS NULL"
    )
    op.alter_column("leaderboard_entries", "order_score", nullable=False, schema=SCHEMA)
    op.alter_column("leaderboard_entries", "best_at", nullable=False, schema=SCHEMA)
    op.create_index(
        "ix_leaderboard_entries_order",
        "leaderboard_entries",
        ["competition_id", "split", "order_score", "best_at", "submission_id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_leaderboard_entries_rank",
        "leaderboard_entries",
        ["competition_id", "split", "rank"],
        schema=SCHEMA,
    )
    op.create_table(
        "leaderboard_boards",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("split", sa.String(10), primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("leaderboard_boards", schema=SCHEMA)
    op.drop_index("ix_leaderboard_entries_rank", table_name="leaderboard_entries", schema=SCHEMA)
    op.drop_index("ix_leaderboard_entries_order", table_name="leaderboard_entries", schema=SCHEMA)
    op.drop_column("leaderboard_entries", "best_at", schema=SCHEMA)
    op.drop_column("leaderboard_entries", "order_score", schema=SCHEMA)

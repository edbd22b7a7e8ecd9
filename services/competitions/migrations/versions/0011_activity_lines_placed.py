"""Activity boards placed line by line: the `all` board's order index, board versions.

A points change moves one participant's line: its new place on the stored `all`
board is found through an index on the board's order (`order_score`, the points
negated so that the index ascends throughout, then `last_statement_at`, then
`user_id`) and the lines it passed shift by one (ADR 0094). `activity_boards`
holds the version (`as_of`) and line count of every activity board (the `all`
board and each day, week and month), which guard the Redis mirror's deltas as
`leaderboard_boards` does for prediction boards. Boards stored before hold no
version there: the next change ranks them whole once.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"


def upgrade() -> None:
    op.add_column(
        "activity_board",
        sa.Column("order_score", sa.Float, sa.Computed("-score", persisted=True)),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_activity_board_order",
        "activity_board",
        ["competition_id", "order_score", "last_statement_at", "user_id"],
        schema=SCHEMA,
    )
    # Room in each page for shifts rewritten in place (heap-only updates, ADR 0089).
    op.execute("ALTER TABLE competitions.activity_board SET (fillfactor = 85)")
    op.create_table(
        "activity_boards",
        sa.Column("competition_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("bucket", sa.String(10), primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("activity_boards", schema=SCHEMA)
    op.execute("ALTER TABLE competitions.activity_board RESET (fillfactor)")
    op.drop_index("ix_activity_board_order", table_name="activity_board", schema=SCHEMA)
    op.drop_column("activity_board", "order_score", schema=SCHEMA)

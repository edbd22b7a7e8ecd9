"""Board shifts in place: no index on `rank`, room in each page for heap-only updates.

The lines a new score passes are found as a range of the order index, and a
board's line count as the rank of its last line in that order, so the index on
`rank` has no reader left. Without it a shift changes no indexed column, and
Postgres rewrites a shifted row in its own page when the page has room (a
heap-only update) instead of adding an entry to every index; a fill factor of 85
leaves that room (ADR 0089). Pages written before keep theirs until rewritten.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"


def upgrade() -> None:
    op.drop_index("ix_leaderboard_entries_rank", table_name="leaderboard_entries", schema=SCHEMA)
    op.execute("ALTER TABLE competitions.leaderboard_entries SET (fillfactor = 85)")


def downgrade() -> None:
    op.execute("ALTER TABLE competitions.leaderboard_entries RESET (fillfactor)")
    op.create_index(
        "ix_leaderboard_entries_rank",
        "leaderboard_entries",
        ["competition_id", "split", "rank"],
        schema=SCHEMA,
    )

"""Ranked board tables leave half of each page free for shifted rows (ADR 0096).

A move shifts a run of consecutive lines, which sit together in the table's pages,
and Postgres can rewrite a row in its own page (a heap-only update) only where the
page has room for the new version within the same transaction. With 85 % of each
page filled, a run of more than a few lines on one page overflowed it and most rows
moved to other pages, each adding entries to both indexes. Half-filled pages hold a
new version of every row they hold. Pages written before keep their density until
they are rewritten: new lines and rows that move fill pages at the new factor, and
`VACUUM FULL` (which locks the table) rewrites a large board at once
(docs/operations.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("competitions.leaderboard_entries", "competitions.activity_board")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 85)")

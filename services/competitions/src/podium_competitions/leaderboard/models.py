"""Tables of the leaderboard projection, in the competitions schema (STYLE 7)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, String, Table
from sqlalchemy.dialects.postgresql import UUID

from podium_competitions.models import BOARD_FILLFACTOR, metadata

# One row per submission the scorer judged; rescoring overwrites the scores.
leaderboard_submissions = Table(
    "leaderboard_submissions",
    metadata,
    Column("submission_id", UUID(as_uuid=True), primary_key=True),
    Column("competition_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("higher_is_better", Boolean, nullable=False, server_default="true"),
    # Null while only an invalidation is known (events travel on different topics).
    Column("public_score", Float),
    Column("private_score", Float),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("scored_at", DateTime(timezone=True)),
    Column("invalidated", Boolean, nullable=False, server_default="false"),
    Index("ix_leaderboard_submissions_competition_user", "competition_id", "user_id"),
)

# The ranked boards, one row per (competition, split, participant). A line's place in
# the order is (order_score, best_at, submission_id), smaller first (SPEC §7.2): a new
# score finds its rank through that index, and the lines it passed (a range of that
# index) shift by one. `rank` is not indexed, so a shift rewrites only the rows, in
# place where their page has room (heap-only updates; ADR 0089).
leaderboard_entries = Table(
    "leaderboard_entries",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("split", String(10), primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("submission_id", UUID(as_uuid=True), nullable=False),
    Column("submissions", Integer, nullable=False),
    Column("last_submission_at", DateTime(timezone=True), nullable=False),
    #: The score as it sorts: negated when higher is better.
    Column("order_score", Float, nullable=False),
    #: When the best submission arrived (the tie-break).
    Column("best_at", DateTime(timezone=True), nullable=False),
    Index(
        "ix_leaderboard_entries_order",
        "competition_id",
        "split",
        "order_score",
        "best_at",
        "submission_id",
    ),
    postgresql_with={"fillfactor": BOARD_FILLFACTOR},
)

# Each board's version: the `as_of` of its last update, which the Redis mirror carries.
leaderboard_boards = Table(
    "leaderboard_boards",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("split", String(10), primary_key=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

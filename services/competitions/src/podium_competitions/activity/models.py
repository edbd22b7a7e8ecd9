"""Tables of activity competitions, in the competitions schema (STYLE 7)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from podium_competitions.models import BOARD_FILLFACTOR, metadata

# The points ledger: one row per (competition, statement) that met a rule, so a
# statement earns points at most once per competition (SPEC §7.3). Voiding keeps
# the row (its points stay for the record) and takes it out of every sum.
activity_points = Table(
    "activity_points",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("statement_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("verb", Text, nullable=False),
    Column("activity_id", Text),
    # The statement's own timestamp (xAPI), not when it reached us.
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # Local day in the participant's time zone: the daily cap's bucket.
    Column("participant_day", Date, nullable=False),
    # Local day in the competition's time zone: the boards' bucket.
    Column("board_day", Date, nullable=False),
    # Rule points times the tier multiplier, before the daily cap.
    Column("base_points", Float, nullable=False),
    Column("points", Float, nullable=False),
    Column("voided", Boolean, nullable=False, server_default="false"),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("points >= 0 AND points <= base_points", name="points"),
    Index("ix_activity_points_cap", "competition_id", "user_id", "participant_day"),
    Index("ix_activity_points_board", "competition_id", "board_day"),
    Index("ix_activity_points_statement", "statement_id"),
)

# The `all` board as last ranked, so a rank change can be told and announced. A points
# change places one line through the index on the board's order (ADR 0094).
activity_board = Table(
    "activity_board",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("statements", Integer, nullable=False),
    Column("last_statement_at", DateTime(timezone=True), nullable=False),
    # More points first: the points negated, so the order index ascends throughout.
    Column("order_score", Float, Computed("-score", persisted=True)),
    Index(
        "ix_activity_board_order", "competition_id", "order_score", "last_statement_at", "user_id"
    ),
    postgresql_with={"fillfactor": BOARD_FILLFACTOR},
)

# Every activity board's version (`as_of`, the instant of its last change) and line
# count: the `all` board and each day, week and month (`bucket`: "all" or the period's
# first day). They guard the Redis mirror's deltas (ADR 0094).
activity_boards = Table(
    "activity_boards",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("bucket", String(10), primary_key=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("total", Integer, nullable=False),
)

# The LRS clients whose statements count for an activity competition (ADR 0054): its
# sponsor (or an admin) names them; statements from any other client earn nothing.
trusted_lrs_clients = Table(
    "trusted_lrs_clients",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("lrs_client_id", UUID(as_uuid=True), primary_key=True),
    Column("trusted_by", UUID(as_uuid=True)),
    Column("trusted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

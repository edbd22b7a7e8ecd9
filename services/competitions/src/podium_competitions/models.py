"""Tables of the competitions service, all in its own `competitions` schema (STYLE 7)."""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "competitions"
metadata = service_metadata(SCHEMA)

#: Share of each page a ranked board table fills on insert (`leaderboard_entries`,
#: `activity_board`): the rest is room for the new versions of the rows a move shifts,
#: so that a shift stays a heap-only update (ADR 0089, 0096).
BOARD_FILLFACTOR = 50
messaging = messaging_tables(metadata)

competitions = Table(
    "competitions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("owner_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("visibility", String(10), nullable=False),
    Column("invite_code", String(64), unique=True),
    Column("status", String(10), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("max_participants", Integer),
    # Accepted participants right now; the CHECK makes over-capacity impossible (SPEC §5.2).
    Column("participants_count", Integer, nullable=False, server_default="0"),
    Column("late_join", Boolean, nullable=False, server_default="false"),
    Column("metric", String(20)),
    Column("daily_submission_limit", Integer),
    Column("public_fraction", Float),
    Column("rules", JSONB),
    # Teams and final submissions (SPEC §10.2): null limits mean "no limit".
    Column("team_size_limit", Integer),
    Column("team_merge_deadline", DateTime(timezone=True)),
    Column("final_submissions_limit", Integer, nullable=False, server_default="2"),
    # Anyone may download the data files of a public competition (SPEC §10.2).
    Column("data_public", Boolean, nullable=False, server_default="false"),
    # Joins wait as `pending` for the owner's decision (SPEC §10.2).
    Column("join_approval", Boolean, nullable=False, server_default="false"),
    # Activity points from any LRS client, not only the trusted ones (ADR 0054): true only
    # for competitions created before trust existed, until their sponsor names clients.
    Column("any_lrs_client", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('prediction', 'activity')", name="kind"),
    CheckConstraint("visibility IN ('public', 'private')", name="visibility"),
    CheckConstraint("status IN ('draft', 'active', 'ended', 'canceled')", name="status"),
    CheckConstraint("ends_at > starts_at", name="window"),
    CheckConstraint(
        "participants_count >= 0 AND "
        "(max_participants IS NULL OR participants_count <= max_participants)",
        name="capacity",
    ),
    Index("ix_competitions_created", "created_at", "id"),
    Index("ix_competitions_active_ends_at", "ends_at", postgresql_where="status = 'active'"),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column(
        "competition_id",
        UUID(as_uuid=True),
        ForeignKey("competitions.competitions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("reason", String(50)),
    # The join request this row last answered; the gateway compares it with a pending one.
    Column("request_id", UUID(as_uuid=True)),
    Column("enrolled_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('pending', 'accepted', 'rejected', 'left')", name="status"),
    Index("ix_enrollments_user_status", "user_id", "status"),
)

# Display names and time zones copied from identity's user events (never read from identity).
users = Table(
    "users",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Lower-cased; resolves xAPI actors identified by `mbox` (SPEC §7.3).
    Column("email", String(320)),
    # Learner tier for activity tier multipliers; null while identity publishes none.
    Column("tier", String(50)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_users_email", "email"),
)

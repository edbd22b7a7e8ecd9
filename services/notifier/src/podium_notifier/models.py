"""Tables of the notifier service, all in its own `notifier` schema (STYLE 7).

Besides the inbox and the e-mail outbox it keeps small projections of other
services' facts (users, competitions, participants, learning statements), so it
never calls another service (SPEC §2, §6).
"""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "notifier"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)

users = Table(
    "users",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

preferences = Table(
    "preferences",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("notification_type", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("enabled", Boolean, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    # `seq` orders the inbox, is the pagination cursor and the SSE event id.
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    # The fact that caused it: an event id, or a scheduler key (reminder per local date).
    Column("dedupe_key", String(255), nullable=False),
    Column("notification_type", String(64), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("link", String(1000)),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    # Idempotent per (event, user, channel) (SPEC §7.4): this table is the in-app channel.
    UniqueConstraint("dedupe_key", "user_id", name="uq_notifications_dedupe_user"),
    Index("ix_notifications_user_seq", "user_id", "seq"),
)

emails = Table(
    "emails",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("dedupe_key", String(255), nullable=False),
    Column("notification_type", String(64), nullable=False),
    Column("to_address", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text),
    # pending -> sent | dead (after `email_max_attempts`, or a template that cannot render)
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    # Idempotent per (event, user, channel) (SPEC §7.4): this table is the e-mail channel.
    UniqueConstraint("dedupe_key", "user_id", name="uq_emails_dedupe_user"),
    Index("ix_emails_due", "next_attempt_at", postgresql_where="status = 'pending'"),
)

#: Mails to users whose address the notifier does not know yet. A user's record and
#: the event that notifies them come on different topics, in no fixed order; the mail
#: waits here, unrendered, until `user.registered` brings the address, then moves to
#: `emails` (ADR 0104).
held_emails = Table(
    "held_emails",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("dedupe_key", String(255), primary_key=True),
    Column("notification_type", String(64), nullable=False),
    Column("template", String(64), nullable=False),
    Column("context", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

competitions = Table(
    "competitions",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("daily_goal_verb", String(1000)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

participants = Table(
    "participants",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

statements = Table(
    "statements",
    metadata,
    Column("statement_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("verb", String(1000), nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("voided", Boolean, nullable=False, server_default="false"),
    Index("ix_statements_user_verb_time", "user_id", "verb", "timestamp"),
)

rank_notices = Table(
    "rank_notices",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("last_notified_at", DateTime(timezone=True), nullable=False),
    Column("last_rank", Integer),
)

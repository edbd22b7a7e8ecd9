"""Tables of the ingest service, all in its own `ingest` schema (STYLE 7).

`statements` keeps each statement exactly as the LRS accepted it (JSONB, by id);
`statement_facts` is its flattened row for queries and reports, written in the
same transaction. `documents` holds the xAPI State, Activity Profile and Agent
Profile documents, written synchronously (docs/adr/0026).
"""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "ingest"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)

statements = Table(
    "statements",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("statement", JSONB, nullable=False),
    Column("lrs_client_id", UUID(as_uuid=True), nullable=False),
    Column("stored", DateTime(timezone=True), nullable=False),
)

statement_facts = Table(
    "statement_facts",
    metadata,
    Column("statement_id", UUID(as_uuid=True), primary_key=True),
    Column("actor_key", Text, nullable=False),
    Column("object_agent_key", Text),
    Column("user_id", UUID(as_uuid=True)),
    Column("verb_id", Text, nullable=False),
    Column("object_type", Text, nullable=False),
    Column("activity_id", Text),
    Column("target_id", UUID(as_uuid=True)),
    Column("registration", UUID(as_uuid=True)),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("stored", DateTime(timezone=True), nullable=False),
    Column("scaled_score", Double),
    Column("success", Boolean),
    Column("completion", Boolean),
    Column("duration_seconds", Double),
    Column("is_voiding", Boolean, nullable=False, default=False),
    Column("voided", Boolean, nullable=False, default=False),
    Index("ix_statement_facts_stored", "stored", "statement_id"),
    Index("ix_statement_facts_actor_key", "actor_key", "stored"),
    Index("ix_statement_facts_verb_id", "verb_id", "stored"),
    Index("ix_statement_facts_activity_id", "activity_id", "stored"),
    # Mostly NULL: only rows with a value enter these (ADR 0087); queries compare with `=`.
    Index(
        "ix_statement_facts_object_agent_key",
        "object_agent_key",
        postgresql_where=text("object_agent_key IS NOT NULL"),
    ),
    Index(
        "ix_statement_facts_registration",
        "registration",
        postgresql_where=text("registration IS NOT NULL"),
    ),
    Index(
        "ix_statement_facts_target_id", "target_id", postgresql_where=text("target_id IS NOT NULL")
    ),
    Index(
        "ix_statement_facts_user_id",
        "user_id",
        "timestamp",
        postgresql_where=text("user_id IS NOT NULL"),
    ),
)

# Report projections (SPEC §5.5), fed by other services' events; ingest never reads
# another schema.
competitions = Table(
    "competitions",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("title", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("daily_goal_verb", Text),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    #: `occurred_at` of the event the row reflects; older events never overwrite it.
    Column("as_of", DateTime(timezone=True), nullable=False),
)

participants = Table(
    "participants",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("joined_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

# xAPI document resources (Communication 2.2-2.7). A key part that does not apply to the
# kind is '' (an agent profile has no activity), so the key is one primary key.
documents = Table(
    "documents",
    metadata,
    Column("kind", Text, nullable=False),
    Column("activity_id", Text, nullable=False),
    Column("agent_key", Text, nullable=False),
    Column("registration", Text, nullable=False),
    Column("document_id", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("etag", Text, nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "activity_id", "agent_key", "registration", "document_id"),
    Index("ix_documents_agent_key", "agent_key"),
)

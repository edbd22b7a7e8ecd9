"""Tables of the scoring service, all in its own `scoring` schema (STYLE 7)."""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "scoring"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)

#: What scoring knows of each competition, from `competition.created/updated` events.
competitions = Table(
    "competitions",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("metric", String(20)),
    Column("public_fraction", Float),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: The current answer key of each competition: where it lies and how it was split.
#: The arrays themselves are rebuilt from the blob on demand (after a restart).
answer_keys = Table(
    "answer_keys",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("blob_key", String(512), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(10), nullable=False),
    # The split is fixed when the key is loaded (SPEC §7.1): later fraction changes do not move it.
    Column("public_fraction", Float, nullable=False),
    Column("id_column", String(200)),
    Column("target_column", String(200)),
    Column("rows", Integer),
    Column("errors", JSONB, nullable=False, server_default="[]"),
    Column("uploaded_by", UUID(as_uuid=True)),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('ready', 'invalid')", name="status"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("submission_id", UUID(as_uuid=True), primary_key=True),
    Column("competition_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("status", String(12), nullable=False),
    Column("blob_key", String(512), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("metric", String(20)),
    Column("public_score", Float),
    Column("private_score", Float),
    Column("errors", JSONB, nullable=False, server_default="[]"),
    Column("answer_key_sha256", String(64)),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("scored_at", DateTime(timezone=True)),
    Column("invalidated_at", DateTime(timezone=True)),
    Column("invalidated_by", UUID(as_uuid=True)),
    # A rejected submission's file is deleted after the retention window (ADR 0057).
    Column("blob_deleted_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('queued', 'scored', 'rejected')", name="status"),
    Index("ix_submissions_competition_user", "competition_id", "user_id", "submitted_at"),
    Index("ix_submissions_competition_submitted", "competition_id", "submitted_at"),
    Index(
        "ix_submissions_rejected_blobs",
        "scored_at",
        postgresql_where=text("status = 'rejected' AND blob_deleted_at IS NULL"),
    ),
)

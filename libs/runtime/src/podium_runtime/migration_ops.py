"""Alembic operations shared by every service's migrations of its outbox and inbox tables."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_messaging_tables(schema: str) -> None:
    """Create `outbox` and `processed_events` in `schema` (mirrors `outbox.messaging_tables`)."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", postgresql.JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["seq"],
        schema=schema,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )


def drop_messaging_tables(schema: str) -> None:
    """Drop the messaging tables of `schema`."""
    op.drop_table("processed_events", schema=schema)
    op.drop_table("outbox", schema=schema)


def store_outbox_payloads_uncompressed(schema: str, *, uncompressed: bool = True) -> None:
    """Keep large outbox payloads out of line without compressing them (ADR 0097).

    A row holding a run of events can be tens of kilobytes; compressing it cost more
    than the insert itself, and the row lives only until it is sent and purged.
    `uncompressed=False` gives the column its default storage back (a downgrade).
    """
    storage = "EXTERNAL" if uncompressed else "EXTENDED"
    op.execute(f"ALTER TABLE {schema}.outbox ALTER COLUMN payload SET STORAGE {storage}")

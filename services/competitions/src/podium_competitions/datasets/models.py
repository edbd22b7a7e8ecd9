"""The table of competition data files, in the competitions schema (STYLE 7)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, String, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from podium_competitions.models import metadata

# Every version of every named file; the bytes live in the blob store under `blob_key`.
data_files = Table(
    "data_files",
    metadata,
    Column(
        "competition_id",
        UUID(as_uuid=True),
        ForeignKey("competitions.competitions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("blob_key", String(512), nullable=False),
    Column("uploaded_by", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Deleting a file hides every version; the blobs are kept for audits.
    Column("deleted_at", DateTime(timezone=True)),
)

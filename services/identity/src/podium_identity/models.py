"""Tables of the identity service, all in its own `identity` schema (STYLE 7)."""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

SCHEMA = "identity"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # Stored lower-cased: one account per address whatever the caller's spelling.
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("role", String(16), nullable=False, server_default="user"),
    Column("email_verified_at", DateTime(timezone=True)),
    # Set while an administrator keeps the account from logging in.
    Column("disabled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Opaque refresh tokens, stored as sha256; one family per login, rotated on every use.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("family_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_user_id", "user_id"),
)

# Single-use e-mail verification and password reset tokens, stored as sha256.
user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("purpose", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index("ix_user_tokens_user_id", "user_id"),
)

# xAPI credentials: the key is public, the secret is stored as sha256 (SPEC §5.1).
lrs_clients = Table(
    "lrs_clients",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key", String(64), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", ARRAY(String(32)), nullable=False),
    Column("created_by", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)

# Every admin and sponsor action, append-only (a trigger refuses UPDATE and DELETE; ADR 0037).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_id", UUID(as_uuid=True)),
    Column("actor_role", String(32)),
    Column("action", String(100), nullable=False),
    Column("target_type", String(50), nullable=False),
    Column("target_id", String(300), nullable=False),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("request_id", String(200)),
    Column("service", String(50), nullable=False),
)

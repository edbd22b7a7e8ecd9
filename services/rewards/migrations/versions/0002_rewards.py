"""Wallets, ledger, drawings, tickets and fulfilments of the rewards service.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "fulfillments",
    "tickets",
    "purchases",
    "prizes",
    "drawings",
    "declarations",
    "audit_log",
    "ledger",
    "point_lots",
    "wallets",
    "sponsors",
    "users",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        schema="rewards",
    )
    op.create_table(
        "sponsors",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_sponsors")),
        schema="rewards",
    )
    op.create_table(
        "wallets",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("debt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_wallets_balance_not_negative")),
        sa.CheckConstraint("debt >= 0", name=op.f("ck_wallets_debt_not_negative")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_wallets")),
        schema="rewards",
    )
    op.create_table(
        "point_lots",
        sa.Column("lot_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= points", name=op.f("ck_point_lots_remaining")
        ),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_point_lots")),
        sa.UniqueConstraint("source", name=op.f("uq_point_lots_source")),
        schema="rewards",
    )
    op.create_index(
        "ix_point_lots_user_open",
        "point_lots",
        ["user_id", "expires_at"],
        unique=False,
        schema="rewards",
    )
    op.create_table(
        "ledger",
        sa.Column("entry_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'spend', 'refund', 'adjust', 'expire', 'revoke')",
            name=op.f("ck_ledger_kind"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger")),
        sa.UniqueConstraint("source", name=op.f("uq_ledger_source")),
        schema="rewards",
    )
    op.create_index(
        "ix_ledger_user_at", "ledger", ["user_id", "at", "entry_id"], unique=False, schema="rewards"
    )
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_audit_log")),
        schema="rewards",
    )
    op.create_index(
        "ix_audit_log_target", "audit_log", ["target", "at"], unique=False, schema="rewards"
    )
    op.create_table(
        "declarations",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("birthdate", sa.Date(), nullable=True),
        sa.Column("region", sa.String(length=6), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_declarations")),
        schema="rewards",
    )
    op.create_table(
        "drawings",
        sa.Column("drawing_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("sponsor_id", sa.UUID(), nullable=False),
        sa.Column("ticket_cost_points", sa.Integer(), nullable=False),
        sa.Column("max_tickets_per_user", sa.Integer(), nullable=False),
        sa.Column("sales_open_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sales_close_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawing_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("regions", postgresql.ARRAY(sa.String(length=6)), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ticket_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("procedure", sa.String(length=40), nullable=True),
        sa.Column("seed", sa.String(length=64), nullable=True),
        sa.Column("commitment", sa.String(length=64), nullable=True),
        sa.Column("tickets_digest", sa.String(length=64), nullable=True),
        sa.Column("next_counter", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'open', 'closed', 'completed', 'cancelled')",
            name=op.f("ck_drawings_status"),
        ),
        sa.CheckConstraint(
            "sales_open_at < sales_close_at AND sales_close_at <= drawing_at",
            name=op.f("ck_drawings_times"),
        ),
        sa.CheckConstraint(
            "ticket_cost_points > 0 AND max_tickets_per_user > 0", name=op.f("ck_drawings_positive")
        ),
        sa.PrimaryKeyConstraint("drawing_id", name=op.f("pk_drawings")),
        schema="rewards",
    )
    op.create_index(
        "ix_drawings_status",
        "drawings",
        ["status", "sales_close_at"],
        unique=False,
        schema="rewards",
    )
    op.create_table(
        "prizes",
        sa.Column("prize_id", sa.UUID(), nullable=False),
        sa.Column("drawing_id", sa.UUID(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "codes", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.CheckConstraint("kind IN ('physical', 'digital')", name=op.f("ck_prizes_kind")),
        sa.CheckConstraint("quantity > 0 AND rank > 0", name=op.f("ck_prizes_positive")),
        sa.ForeignKeyConstraint(
            ["drawing_id"],
            ["rewards.drawings.drawing_id"],
            name=op.f("fk_prizes_drawing_id_drawings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prize_id", name=op.f("pk_prizes")),
        sa.UniqueConstraint("drawing_id", "rank", name="rank"),
        schema="rewards",
    )
    op.create_table(
        "purchases",
        sa.Column("purchase_id", sa.UUID(), nullable=False),
        sa.Column("drawing_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("first_number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purchase_id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("user_id", "idempotency_key", name="idempotency_key"),
        schema="rewards",
    )
    op.create_index(
        "ix_purchases_drawing_user",
        "purchases",
        ["drawing_id", "user_id"],
        unique=False,
        schema="rewards",
    )
    op.create_table(
        "tickets",
        sa.Column("drawing_id", sa.UUID(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("purchase_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("drawing_id", "number", name=op.f("pk_tickets")),
        schema="rewards",
    )
    op.create_index(
        "ix_tickets_user", "tickets", ["user_id", "drawing_id"], unique=False, schema="rewards"
    )
    op.create_table(
        "fulfillments",
        sa.Column("fulfillment_id", sa.UUID(), nullable=False),
        sa.Column("drawing_id", sa.UUID(), nullable=False),
        sa.Column("prize_id", sa.UUID(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("draw_counter", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forfeited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('awaiting_address', 'address_confirmed', 'shipped', 'delivered', "
            "'forfeited')",
            name=op.f("ck_fulfillments_status"),
        ),
        sa.PrimaryKeyConstraint("fulfillment_id", name=op.f("pk_fulfillments")),
        sa.UniqueConstraint("drawing_id", "slot", "round", name="slot_round"),
        schema="rewards",
    )
    op.create_index(
        "ix_fulfillments_status",
        "fulfillments",
        ["status", "notified_at"],
        unique=False,
        schema="rewards",
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table, schema="rewards")

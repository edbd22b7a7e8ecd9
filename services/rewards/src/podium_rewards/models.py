"""Tables of the rewards service, all in its own `rewards` schema (STYLE 7).

Points are whole numbers. A wallet's balance is the sum of its lots'
`remaining`; lots are spent and expire oldest first. The ledger is
append-only. A drawing's seed stays in its row from close to completion and is
only published (in the proof) once the drawing is completed.
"""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

SCHEMA = "rewards"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)

#: Display names of users, from identity's events (results show names, never e-mails).
users = Table(
    "users",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Sponsors: owners of at least one competition (SPEC §1), from competition events.
sponsors = Table(
    "sponsors",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

wallets = Table(
    "wallets",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    # Points revoked after they were spent: settled from the next points earned.
    Column("debt", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    CheckConstraint("debt >= 0", name="debt_not_negative"),
)

#: Parcels of points with their own expiry; spending takes from the soonest-expiring first.
point_lots = Table(
    "point_lots",
    metadata,
    Column("lot_id", BigInteger, primary_key=True, autoincrement=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    # What created the lot, e.g. `statement:<competition>:<statement>` (one lot per source).
    Column("source", String(200), nullable=False, unique=True),
    Column("points", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining"),
    Index("ix_point_lots_user_open", "user_id", "expires_at"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("entry_id", BigInteger, primary_key=True, autoincrement=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(10), nullable=False),
    # Signed: earn, refund and positive adjustments add; spend, expire, revoke take.
    Column("points", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reference", String(200)),
    # Makes event-driven entries idempotent (`earn:`, `revoke:`, `refund:`, `expire:` keys).
    Column("source", String(200), unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "kind IN ('earn', 'spend', 'refund', 'adjust', 'expire', 'revoke')", name="kind"
    ),
    Index("ix_ledger_user_at", "user_id", "at", "entry_id"),
)

#: Who did what: admin adjustments, drawing and fulfilment changes (never addresses).
audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=True),
    Column("actor_id", UUID(as_uuid=True)),
    Column("action", String(60), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", JSONB, nullable=False, server_default="{}"),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_audit_log_target", "target", "at"),
)

#: What a buyer declared about themselves for eligibility (first declaration stands).
declarations = Table(
    "declarations",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("birthdate", Date),
    Column("region", String(6)),
    Column("declared_at", DateTime(timezone=True), nullable=False),
)

drawings = Table(
    "drawings",
    metadata,
    Column("drawing_id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("sponsor_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_cost_points", Integer, nullable=False),
    Column("max_tickets_per_user", Integer, nullable=False),
    Column("sales_open_at", DateTime(timezone=True), nullable=False),
    Column("sales_close_at", DateTime(timezone=True), nullable=False),
    Column("drawing_at", DateTime(timezone=True), nullable=False),
    Column("min_age", Integer),
    Column("regions", ARRAY(String(6))),
    Column("status", String(10), nullable=False),
    Column("ticket_count", Integer, nullable=False, server_default="0"),
    # Commit-reveal (docs/rewards-fairness.md): fixed at close, seed published at completion.
    Column("procedure", String(40)),
    Column("seed", String(64)),
    Column("commitment", String(64)),
    Column("tickets_digest", String(64)),
    # Next HMAC counter of the draw stream: alternates continue where the last pick ended.
    Column("next_counter", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    CheckConstraint(
        "status IN ('draft', 'scheduled', 'open', 'closed', 'completed', 'cancelled')",
        name="status",
    ),
    CheckConstraint("ticket_cost_points > 0 AND max_tickets_per_user > 0", name="positive"),
    CheckConstraint(
        "sales_open_at < sales_close_at AND sales_close_at <= drawing_at", name="times"
    ),
    Index("ix_drawings_status", "status", "sales_close_at"),
)

prizes = Table(
    "prizes",
    metadata,
    Column("prize_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "drawing_id",
        UUID(as_uuid=True),
        ForeignKey("drawings.drawing_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("rank", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("value", Numeric(12, 2), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("quantity", Integer, nullable=False),
    # Digital prizes: the sponsor's codes, one per unit (generated when not given).
    Column("codes", JSONB, nullable=False, server_default="[]"),
    CheckConstraint("kind IN ('physical', 'digital')", name="kind"),
    CheckConstraint("quantity > 0 AND rank > 0", name="positive"),
    UniqueConstraint("drawing_id", "rank", name="rank"),
)

purchases = Table(
    "purchases",
    metadata,
    Column("purchase_id", UUID(as_uuid=True), primary_key=True),
    Column("drawing_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("first_number", Integer, nullable=False),
    Column("idempotency_key", String(64)),
    Column("fingerprint", String(64)),
    # The answer given, returned again to a retry with the same key.
    Column("response", JSONB),
    Column("refunded_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "idempotency_key", name="idempotency_key"),
    Index("ix_purchases_drawing_user", "drawing_id", "user_id"),
)

#: Tickets numbered 1..N per drawing in purchase order: the frozen, ordered list.
tickets = Table(
    "tickets",
    metadata,
    Column("drawing_id", UUID(as_uuid=True), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("purchase_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_tickets_user", "user_id", "drawing_id"),
)

#: One row per prize unit won: the winner and the prize's way to them.
fulfillments = Table(
    "fulfillments",
    metadata,
    Column("fulfillment_id", UUID(as_uuid=True), primary_key=True),
    Column("drawing_id", UUID(as_uuid=True), nullable=False),
    Column("prize_id", UUID(as_uuid=True), nullable=False),
    # Position of the prize unit in rank order (1 = first prize's first unit).
    Column("slot", Integer, nullable=False),
    # 0 for the original winner, 1.. for alternates after forfeits.
    Column("round", Integer, nullable=False),
    Column("ticket_number", Integer, nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("draw_counter", BigInteger, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("address", JSONB),
    Column("carrier", String(100)),
    Column("tracking_number", String(100)),
    Column("code", String(200)),
    Column("notified_at", DateTime(timezone=True), nullable=False),
    Column("claim_by", DateTime(timezone=True)),
    Column("reminded_at", DateTime(timezone=True)),
    Column("address_at", DateTime(timezone=True)),
    Column("shipped_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("forfeited_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "status IN ('awaiting_address', 'address_confirmed', 'shipped', 'delivered', 'forfeited')",
        name="status",
    ),
    UniqueConstraint("drawing_id", "slot", "round", name="slot_round"),
    Index("ix_fulfillments_user", "user_id", "notified_at"),
    Index("ix_fulfillments_status", "status", "notified_at"),
)

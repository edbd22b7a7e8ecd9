"""All SQL of the rewards service (STYLE 2): wallets, lots, ledger, drawings, tickets, prizes.

Locks are always taken in the same order: a drawing row, then wallet rows in
user id order, so concurrent purchases, cancellations and executions never
deadlock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from podium_runtime.db import AnyRow
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_rewards.models import (
    audit_log,
    declarations,
    drawings,
    fulfillments,
    ledger,
    point_lots,
    prizes,
    purchases,
    sponsors,
    tickets,
    users,
    wallets,
)

d = drawings.c
f = fulfillments.c
lots = point_lots.c


async def try_scheduler_lock(session: AsyncSession, key: str) -> bool:
    """Take the scheduler's advisory lock for this transaction; False if another replica has it."""
    return bool(
        await session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": key})
    )


# --- projections ---------------------------------------------------------------------


async def upsert_user(session: AsyncSession, user_id: uuid.UUID, display_name: str) -> None:
    """Keep a user's display name."""
    statement = pg_insert(users).values(user_id=user_id, display_name=display_name)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[users.c.user_id],
            set_={"display_name": display_name, "updated_at": func.now()},
        )
    )


async def add_sponsor(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Record that a user owns a competition (a sponsor)."""
    await session.execute(pg_insert(sponsors).values(user_id=user_id).on_conflict_do_nothing())


async def is_sponsor(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Tell whether the user owns at least one competition."""
    return (
        await session.scalar(select(sponsors.c.user_id).where(sponsors.c.user_id == user_id))
    ) is not None


async def display_names(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Return the known display names of these users."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(users.c.user_id, users.c.display_name).where(users.c.user_id.in_(user_ids))
    )
    return {row.user_id: row.display_name for row in rows}


# --- wallets -------------------------------------------------------------------------


class Wallet(NamedTuple):
    """A locked wallet's balance and debt."""

    balance: int
    debt: int


async def lock_wallet(session: AsyncSession, user_id: uuid.UUID) -> Wallet:
    """Create the wallet if needed and lock it until the transaction ends; return it."""
    return (await lock_wallets(session, [user_id]))[user_id]


async def lock_wallets(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Wallet]:
    """Create the wallets if needed and lock them, in user order, until the transaction
    ends; return each one's balance and debt."""
    ids = sorted(set(user_ids))
    await session.execute(
        pg_insert(wallets).on_conflict_do_nothing(), [{"user_id": user_id} for user_id in ids]
    )
    rows = await session.execute(_LOCK_WALLETS, {"user_ids": ids})
    return {row.user_id: Wallet(row.balance, row.debt) for row in rows}


_LOCK_WALLETS = (
    select(wallets.c.user_id, wallets.c.balance, wallets.c.debt)
    .where(wallets.c.user_id.in_(bindparam("user_ids", expanding=True)))
    .order_by(wallets.c.user_id)
    .with_for_update()
)


async def get_wallet(session: AsyncSession, user_id: uuid.UUID) -> AnyRow | None:
    """Return a wallet without locking it."""
    return (
        await session.execute(
            select(wallets.c.balance, wallets.c.debt, wallets.c.updated_at).where(
                wallets.c.user_id == user_id
            )
        )
    ).first()


async def set_wallet(session: AsyncSession, user_id: uuid.UUID, balance: int, debt: int) -> None:
    """Write a locked wallet's new balance and debt (the check constraint forbids < 0)."""
    await set_wallets(session, {user_id: Wallet(balance, debt)})


async def set_wallets(session: AsyncSession, changed: Mapping[uuid.UUID, Wallet]) -> None:
    """Write locked wallets' new balance and debt, one statement for all of them."""
    if changed:
        await session.execute(
            _SET_WALLET,
            [
                {"wallet": user_id, "balance": balance, "debt": debt}
                for user_id, (balance, debt) in changed.items()
            ],
        )


_SET_WALLET = (
    update(wallets)
    .where(wallets.c.user_id == bindparam("wallet"))
    .values(balance=bindparam("balance"), debt=bindparam("debt"), updated_at=func.now())
)


async def add_lots(session: AsyncSession, lots: Sequence[dict[str, Any]]) -> None:
    """Create parcels of points (`user_id`, `source`, `points`, `remaining`, `expires_at`,
    `created_at`), one statement for all of them."""
    if lots:
        await session.execute(insert(point_lots), list(lots))


async def lot_by_source(session: AsyncSession, source: str) -> AnyRow | None:
    """Return the lot a source created."""
    return (
        await session.execute(
            select(lots.lot_id, lots.remaining, lots.user_id).where(lots.source == source)
        )
    ).first()


async def open_lots(session: AsyncSession, user_id: uuid.UUID) -> Sequence[AnyRow]:
    """Return a user's lots with points left, in spending order (soonest expiry first)."""
    return (
        await session.execute(
            select(lots.lot_id, lots.remaining, lots.expires_at)
            .where(lots.user_id == user_id, lots.remaining > 0)
            .order_by(lots.expires_at.asc().nulls_last(), lots.lot_id)
        )
    ).all()


async def set_lot_remaining(session: AsyncSession, lot_id: int, remaining: int) -> None:
    """Write how much of a lot is left."""
    await session.execute(
        update(point_lots).where(lots.lot_id == lot_id).values(remaining=remaining)
    )


async def expired_lots(session: AsyncSession, now: datetime, limit: int) -> Sequence[AnyRow]:
    """Return lots past their expiry that still hold points."""
    return (
        await session.execute(
            select(lots.lot_id, lots.user_id, lots.remaining, lots.expires_at)
            .where(lots.remaining > 0, lots.expires_at <= now)
            .order_by(lots.user_id, lots.lot_id)
            .limit(limit)
        )
    ).all()


async def expiring_lots(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, until: datetime
) -> Sequence[AnyRow]:
    """Return a user's lots expiring between now and `until`."""
    return (
        await session.execute(
            select(lots.remaining, lots.expires_at)
            .where(
                lots.user_id == user_id,
                lots.remaining > 0,
                lots.expires_at > now,
                lots.expires_at <= until,
            )
            .order_by(lots.expires_at)
        )
    ).all()


async def ledger_has(session: AsyncSession, source: str) -> bool:
    """Tell whether an entry with this idempotency source exists."""
    return source in await ledger_sources(session, [source])


async def ledger_sources(session: AsyncSession, sources: Sequence[str]) -> set[str]:
    """Return which of these idempotency sources already have a ledger entry."""
    if not sources:
        return set()
    rows = await session.scalars(
        select(ledger.c.source).where(ledger.c.source.in_(bindparam("sources", expanding=True))),
        {"sources": list(sources)},
    )
    return set(rows)


async def add_entries(session: AsyncSession, entries: Sequence[dict[str, Any]]) -> None:
    """Append ledger entries, one statement for all of them."""
    if entries:
        await session.execute(insert(ledger), list(entries))


async def add_entry(session: AsyncSession, **values: Any) -> None:
    """Append one ledger entry."""
    await add_entries(session, [values])


async def entries(
    session: AsyncSession, user_id: uuid.UUID, limit: int, before: int | None
) -> Sequence[AnyRow]:
    """Return a user's ledger, newest first, from before entry id `before`."""
    query = select(ledger).where(ledger.c.user_id == user_id)
    if before is not None:
        query = query.where(ledger.c.entry_id < before)
    return (await session.execute(query.order_by(ledger.c.entry_id.desc()).limit(limit))).all()


async def audit(
    session: AsyncSession,
    actor_id: uuid.UUID | None,
    action: str,
    target: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """Append an audit entry (never personal data such as addresses)."""
    await session.execute(
        insert(audit_log).values(
            actor_id=actor_id, action=action, target=target, details=details, at=now
        )
    )


async def audit_entries(session: AsyncSession, target: str) -> Sequence[AnyRow]:
    """Return the audit trail of one target, oldest first."""
    return (
        await session.execute(
            select(audit_log).where(audit_log.c.target == target).order_by(audit_log.c.audit_id)
        )
    ).all()


# --- declarations --------------------------------------------------------------------


async def get_declaration(session: AsyncSession, user_id: uuid.UUID) -> AnyRow | None:
    """Return what the user declared for eligibility."""
    return (
        await session.execute(select(declarations).where(declarations.c.user_id == user_id))
    ).first()


async def save_declaration(session: AsyncSession, user_id: uuid.UUID, **values: Any) -> None:
    """Store the fields the user declares for the first time (declared ones stay)."""
    statement = pg_insert(declarations).values(user_id=user_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[declarations.c.user_id],
            set_={
                "birthdate": func.coalesce(declarations.c.birthdate, statement.excluded.birthdate),
                "region": func.coalesce(declarations.c.region, statement.excluded.region),
            },
        )
    )


# --- drawings ------------------------------------------------------------------------


async def insert_drawing(
    session: AsyncSession, values: dict[str, Any], prize_rows: list[dict[str, Any]]
) -> None:
    """Create a drawing with its prizes."""
    await session.execute(insert(drawings).values(**values))
    await session.execute(insert(prizes), prize_rows)


async def get_drawing(
    session: AsyncSession, drawing_id: uuid.UUID, *, lock: bool = False
) -> AnyRow | None:
    """Return a drawing; `lock` holds its row until the transaction ends."""
    query = select(drawings).where(d.drawing_id == drawing_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def drawing_names(
    session: AsyncSession, drawing_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Return the names of these drawings."""
    if not drawing_ids:
        return {}
    rows = await session.execute(select(d.drawing_id, d.name).where(d.drawing_id.in_(drawing_ids)))
    return {row.drawing_id: row.name for row in rows}


async def update_drawing(session: AsyncSession, drawing_id: uuid.UUID, **values: Any) -> None:
    """Change a drawing's columns."""
    await session.execute(update(drawings).where(d.drawing_id == drawing_id).values(**values))


async def replace_prizes(
    session: AsyncSession, drawing_id: uuid.UUID, prize_rows: list[dict[str, Any]]
) -> None:
    """Replace a draft drawing's prizes."""
    await session.execute(prizes.delete().where(prizes.c.drawing_id == drawing_id))
    await session.execute(insert(prizes), prize_rows)


async def list_drawings(
    session: AsyncSession,
    *,
    status: str | None,
    visible_to: uuid.UUID | None,
    admin: bool,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[AnyRow]:
    """Return drawings by closing time (soonest first); drafts only to their sponsor or admins."""
    query = select(drawings)
    if status is not None:
        query = query.where(d.status == status)
    if not admin:
        query = query.where((d.status != "draft") | (d.sponsor_id == visible_to))
    if after is not None:
        query = query.where(
            (d.sales_close_at > after[0])
            | ((d.sales_close_at == after[0]) & (d.drawing_id > after[1]))
        )
    query = query.order_by(d.sales_close_at, d.drawing_id).limit(limit)
    return (await session.execute(query)).all()


async def due_drawings(session: AsyncSession, status: str, column: str, now: datetime) -> list[Any]:
    """Return ids of drawings in `status` whose `column` instant has come."""
    rows = await session.execute(
        select(d.drawing_id)
        .where(d.status == status, getattr(d, column) <= now)
        .order_by(getattr(d, column), d.drawing_id)
    )
    return [row.drawing_id for row in rows]


async def prizes_of(session: AsyncSession, drawing_ids: Sequence[uuid.UUID]) -> Sequence[AnyRow]:
    """Return the prizes of these drawings in rank order."""
    if not drawing_ids:
        return []
    return (
        await session.execute(
            select(prizes)
            .where(prizes.c.drawing_id.in_(drawing_ids))
            .order_by(prizes.c.drawing_id, prizes.c.rank)
        )
    ).all()


async def get_prize(session: AsyncSession, prize_id: uuid.UUID) -> AnyRow:
    """Return one prize."""
    return (await session.execute(select(prizes).where(prizes.c.prize_id == prize_id))).one()


# --- purchases and tickets -----------------------------------------------------------


async def purchase_by_key(session: AsyncSession, user_id: uuid.UUID, key: str) -> AnyRow | None:
    """Return the user's purchase made with this Idempotency-Key."""
    return (
        await session.execute(
            select(purchases).where(
                purchases.c.user_id == user_id, purchases.c.idempotency_key == key
            )
        )
    ).first()


async def insert_purchase(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a purchase."""
    await session.execute(insert(purchases).values(**values))


async def insert_tickets(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Create numbered tickets."""
    await session.execute(insert(tickets), rows)


async def tickets_held(session: AsyncSession, drawing_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Return how many tickets a user holds in a drawing."""
    return int(
        await session.scalar(
            select(func.count()).where(
                tickets.c.drawing_id == drawing_id, tickets.c.user_id == user_id
            )
        )
        or 0
    )


async def my_ticket_counts(
    session: AsyncSession, user_id: uuid.UUID, drawing_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Return the user's ticket count per drawing."""
    if not drawing_ids:
        return {}
    rows = await session.execute(
        select(tickets.c.drawing_id, func.count().label("n"))
        .where(tickets.c.user_id == user_id, tickets.c.drawing_id.in_(drawing_ids))
        .group_by(tickets.c.drawing_id)
    )
    return {row.drawing_id: int(row.n) for row in rows}


async def ticket_holders(session: AsyncSession, drawing_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the holder of each ticket, ticket 1 first (the frozen, ordered list)."""
    rows = await session.execute(
        select(tickets.c.user_id)
        .where(tickets.c.drawing_id == drawing_id)
        .order_by(tickets.c.number)
    )
    return [row.user_id for row in rows]


async def user_tickets(session: AsyncSession, user_id: uuid.UUID) -> Sequence[AnyRow]:
    """Return every ticket of a user with its drawing, newest drawing first."""
    return (
        await session.execute(
            select(tickets.c.drawing_id, tickets.c.number, d.name, d.status, d.drawing_at)
            .select_from(tickets.join(drawings, d.drawing_id == tickets.c.drawing_id))
            .where(tickets.c.user_id == user_id)
            .order_by(d.drawing_at.desc(), tickets.c.drawing_id, tickets.c.number)
        )
    ).all()


async def unrefunded_purchases(session: AsyncSession, drawing_id: uuid.UUID) -> Sequence[AnyRow]:
    """Return a drawing's purchases not refunded yet, by buyer (the wallet lock order)."""
    return (
        await session.execute(
            select(purchases)
            .where(purchases.c.drawing_id == drawing_id, purchases.c.refunded_at.is_(None))
            .order_by(purchases.c.user_id, purchases.c.created_at)
        )
    ).all()


async def mark_refunded(session: AsyncSession, purchase_id: uuid.UUID, now: datetime) -> bool:
    """Mark a purchase refunded; False when it already was (refunds happen once)."""
    result = await session.execute(
        update(purchases)
        .where(purchases.c.purchase_id == purchase_id, purchases.c.refunded_at.is_(None))
        .values(refunded_at=now)
        .returning(purchases.c.purchase_id)
    )
    return result.first() is not None


# --- fulfilments ---------------------------------------------------------------------


async def insert_fulfillment(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a prize unit won."""
    await session.execute(insert(fulfillments).values(**values))


async def fulfillments_of_drawing(session: AsyncSession, drawing_id: uuid.UUID) -> Sequence[AnyRow]:
    """Return every winner row of a drawing, in draw order."""
    return (
        await session.execute(
            select(fulfillments).where(f.drawing_id == drawing_id).order_by(f.draw_counter)
        )
    ).all()


async def get_fulfillment(
    session: AsyncSession, fulfillment_id: uuid.UUID, *, lock: bool = False
) -> AnyRow | None:
    """Return one fulfilment; `lock` holds the row."""
    query = select(fulfillments).where(f.fulfillment_id == fulfillment_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update_fulfillment(
    session: AsyncSession, fulfillment_id: uuid.UUID, **values: Any
) -> None:
    """Change a fulfilment's columns."""
    await session.execute(
        update(fulfillments).where(f.fulfillment_id == fulfillment_id).values(**values)
    )


async def list_fulfillments(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[AnyRow]:
    """Return fulfilments (one user's, or all), newest first."""
    query = select(fulfillments)
    if user_id is not None:
        query = query.where(f.user_id == user_id)
    if status is not None:
        query = query.where(f.status == status)
    if after is not None:
        query = query.where(
            (f.notified_at < after[0])
            | ((f.notified_at == after[0]) & (f.fulfillment_id < after[1]))
        )
    query = query.order_by(f.notified_at.desc(), f.fulfillment_id.desc()).limit(limit)
    return (await session.execute(query)).all()


async def claims_due(
    session: AsyncSession, *, notified_before: datetime, unreminded: bool
) -> list[uuid.UUID]:
    """Return physical prizes still waiting for an address since before the instant."""
    query = select(f.fulfillment_id).where(
        f.status == "awaiting_address", f.notified_at <= notified_before
    )
    if unreminded:
        query = query.where(f.reminded_at.is_(None))
    rows = await session.execute(query.order_by(f.notified_at, f.fulfillment_id))
    return [row.fulfillment_id for row in rows]

"""Use cases of the rewards service; they flush, never commit (STYLE 2-3).

Wallet: whole points in lots; earning settles any debt first (points revoked
after they were spent), spending and expiry take from the soonest-expiring lot.
The wallet row is locked (`SELECT ... FOR UPDATE`) for every change, and a
check constraint keeps the balance at 0 or more whatever happens.

Drawings: a purchase locks the drawing row (tickets are numbered in purchase
order and the per-user cap is counted under that lock), then the wallet. The
Idempotency-Key of a purchase is stored with it, unique per user, so a retry
returns the first answer and never buys twice.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from podium_contracts.events import FulfillmentData, FulfillmentUpdated, PointsData
from podium_runtime.outbox import Outbox, new_event
from podium_runtime.problems import ServiceError
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from podium_rewards import domain
from podium_rewards import repository as repo
from podium_rewards.config import Settings

PRODUCER = "rewards"


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class RewardsError(ServiceError):
    """A refused use case: `kind` (not_found, forbidden, conflict, invalid) and a stable code.

    Rendered as RFC 7807 by the runtime's one handler; `extra` fields (a refusal
    `reason`, the balance) join the problem document.
    """

    STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 422}

    def __init__(
        self, kind: str, code: str, detail: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, detail, status=self.STATUS[kind], extra=extra)
        self.kind = kind


@dataclass(frozen=True)
class Caller:
    """Who asks, as the gateway vouches: a user id and a role."""

    user_id: uuid.UUID
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        """Whether the caller is an administrator."""
        return self.role == "admin"


def _statement_source(kind: str, data: PointsData) -> str:
    """The idempotency source of a statement's points entry: `earn` or `revoke`."""
    return f"{kind}:{data.competition_id}:{data.statement_id}"


@dataclass(frozen=True)
class Credit:
    """Points to add to a wallet as a new lot, with the ledger entry that says why."""

    user_id: uuid.UUID
    points: int
    kind: str
    reason: str
    #: The entry's idempotency source; the lot's is `lot:<source>`.
    source: str
    reference: str | None
    expires: bool


@dataclass
class Rewards:
    """The rewards use cases with their settings, outbox and clock."""

    settings: Settings
    outbox: Outbox
    clock: Any = utc_now

    # --- wallet ----------------------------------------------------------------------

    async def _credit(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        points: int,
        *,
        kind: str,
        reason: str,
        source: str,
        reference: str | None,
        expires: bool,
    ) -> int:
        """Add points as a new lot (settling debt first) and a ledger entry; return the balance."""
        credit = Credit(user_id, points, kind, reason, source, reference, expires)
        return (await self._credit_all(session, [credit]))[user_id]

    async def _credit_all(
        self, session: AsyncSession, credits: Sequence[Credit]
    ) -> dict[uuid.UUID, int]:
        """Add each credit as a new lot (settling its wallet's debt first) and a ledger entry,
        in order; return the wallets' balances after.

        The wallets are locked once each, in user order, and the lots, the entries and the
        wallets are written in one statement each, however many credits.
        """
        now = self.clock()
        wallets = await repo.lock_wallets(session, [c.user_id for c in credits])
        expiry = domain.expiry(now, self.settings.points_expire_after_days)
        lots: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        for credit in credits:
            balance, debt = wallets[credit.user_id]
            settled = min(debt, credit.points)
            remaining = credit.points - settled
            wallets[credit.user_id] = repo.Wallet(balance + remaining, debt - settled)
            lots.append(
                {
                    "user_id": credit.user_id,
                    "source": f"lot:{credit.source}",
                    "points": credit.points,
                    "remaining": remaining,
                    "expires_at": expiry if credit.expires else None,
                    "created_at": now,
                }
            )
            reason = credit.reason
            if settled:
                reason = f"{reason} ({settled} settled revoked points)"
            entries.append(
                {
                    "user_id": credit.user_id,
                    "kind": credit.kind,
                    "points": credit.points,
                    "balance_after": balance + remaining,
                    "reason": reason,
                    "reference": credit.reference,
                    "source": credit.source,
                    "at": now,
                }
            )
        await repo.add_lots(session, lots)
        await repo.set_wallets(session, wallets)
        await repo.add_entries(session, entries)
        return {user_id: balance for user_id, (balance, _) in wallets.items()}

    async def _take(
        self, session: AsyncSession, user_id: uuid.UUID, points: int, first_lot: int | None = None
    ) -> int:
        """Take up to `points` from a locked wallet's lots (one lot first); return the amount."""
        taken = 0
        open_lots = list(await repo.open_lots(session, user_id))
        if first_lot is not None:
            open_lots.sort(key=lambda lot: lot.lot_id != first_lot)
        for lot in open_lots:
            if taken >= points:
                break
            part = min(lot.remaining, points - taken)
            await repo.set_lot_remaining(session, lot.lot_id, lot.remaining - part)
            taken += part
        return taken

    async def record_points(
        self, session: AsyncSession, changes: Sequence[tuple[PointsData, bool]]
    ) -> None:
        """Credit `points.awarded`, or take back `points.revoked` (`True`), once per statement,
        in order.

        The awards up to a revocation are credited together (`_credit_all`: each wallet
        locked once, the lots and entries in one statement each); a revocation takes
        from the lots, so the credits before it are written first.
        """
        awarded: list[PointsData] = []
        for data, revoked in changes:
            if revoked:
                await self._credit_points(session, awarded)
                awarded = []
                await self._take_back_points(session, data)
            else:
                awarded.append(data)
        await self._credit_points(session, awarded)

    async def _credit_points(self, session: AsyncSession, awarded: Sequence[PointsData]) -> None:
        """Credit awarded points not credited before (a redelivery credits nothing)."""
        credits = [
            Credit(
                data.user_id,
                points,
                "earn",
                "activity points",
                _statement_source("earn", data),
                f"competition:{data.competition_id}",
                expires=True,
            )
            for data in awarded
            for points in [domain.whole_points(data.points)]
            if points != 0
        ]
        held = await repo.ledger_sources(session, [credit.source for credit in credits])
        new: list[Credit] = []
        for credit in credits:
            if credit.source not in held:
                held.add(credit.source)
                new.append(credit)
        if new:
            await self._credit_all(session, new)

    async def _take_back_points(self, session: AsyncSession, data: PointsData) -> None:
        """Take back a voided statement's points, once."""
        points = domain.whole_points(data.points)
        source = _statement_source("revoke", data)
        if points == 0 or await repo.ledger_has(session, source):
            return
        now = self.clock()
        wallet = await repo.lock_wallet(session, data.user_id)
        # The lot the award credited (`_credit_all` names it after the award's source).
        lot = await repo.lot_by_source(session, f"lot:{_statement_source('earn', data)}")
        taken = await self._take(
            session, data.user_id, points, first_lot=lot.lot_id if lot is not None else None
        )
        balance = wallet.balance - taken
        await repo.set_wallet(session, data.user_id, balance, wallet.debt + points - taken)
        await repo.add_entry(
            session,
            user_id=data.user_id,
            kind="revoke",
            points=-points,
            balance_after=balance,
            reason="activity points taken back (statement voided)",
            reference=f"competition:{data.competition_id}",
            source=source,
            at=now,
        )

    async def adjust(
        self, session: AsyncSession, admin: Caller, user_id: uuid.UUID, points: int, reason: str
    ) -> dict[str, Any]:
        """Add or remove points by hand, with an audited reason; never below zero."""
        now = self.clock()
        source = f"adjust:{uuid.uuid4()}"
        if points > 0:
            balance = await self._credit(
                session,
                user_id,
                points,
                kind="adjust",
                reason=reason,
                source=source,
                reference=f"admin:{admin.user_id}",
                expires=False,
            )
        else:
            wallet = await repo.lock_wallet(session, user_id)
            if wallet.balance < -points:
                raise RewardsError(
                    "conflict",
                    "INSUFFICIENT_POINTS",
                    "The wallet holds fewer points than the adjustment takes.",
                    {"balance": wallet.balance},
                )
            await self._take(session, user_id, -points)
            balance = wallet.balance + points
            await repo.set_wallet(session, user_id, balance, wallet.debt)
            await repo.add_entry(
                session,
                user_id=user_id,
                kind="adjust",
                points=points,
                balance_after=balance,
                reason=reason,
                reference=f"admin:{admin.user_id}",
                source=source,
                at=now,
            )
        await repo.audit(
            session,
            admin.user_id,
            "wallet.adjusted",
            f"wallet:{user_id}",
            {"points": points, "reason": reason, "balance_after": balance},
            now,
        )
        return await self.wallet(session, user_id)

    async def expire_points(self, session: AsyncSession, limit: int = 500) -> int:
        """Expire lots past their date (ledger `expire`); return how many lots expired."""
        now = self.clock()
        count = 0
        for lot in await repo.expired_lots(session, now, limit):
            wallet = await repo.lock_wallet(session, lot.user_id)
            await repo.set_lot_remaining(session, lot.lot_id, 0)
            balance = wallet.balance - lot.remaining
            await repo.set_wallet(session, lot.user_id, balance, wallet.debt)
            await repo.add_entry(
                session,
                user_id=lot.user_id,
                kind="expire",
                points=-lot.remaining,
                balance_after=balance,
                reason="points expired",
                reference=None,
                source=f"expire:{lot.lot_id}",
                at=now,
            )
            count += 1
        return count

    async def wallet(self, session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
        """Return the balance, any debt and the points expiring soon."""
        now = self.clock()
        row = await repo.get_wallet(session, user_id)
        until = now + timedelta(days=self.settings.expiring_soon_days)
        expiring = await repo.expiring_lots(session, user_id, now, until)
        return {
            "user_id": user_id,
            "balance": row.balance if row else 0,
            "debt": row.debt if row else 0,
            "expiring": [{"points": r.remaining, "expires_at": r.expires_at} for r in expiring],
        }

    # --- drawings --------------------------------------------------------------------

    async def _may_manage(self, session: AsyncSession, caller: Caller, sponsor_id: Any) -> None:
        if caller.is_admin or caller.user_id == sponsor_id:
            return
        raise RewardsError("not_found", "DRAWING_NOT_FOUND", "No such drawing.")

    async def create_drawing(
        self, session: AsyncSession, caller: Caller, body: Any
    ) -> dict[str, Any]:
        """Create a draft drawing with its prizes (admins, and sponsors for themselves)."""
        if not caller.is_admin and not await repo.is_sponsor(session, caller.user_id):
            raise RewardsError(
                "forbidden", "FORBIDDEN", "Only administrators and sponsors create drawings."
            )
        now = self.clock()
        drawing_id = uuid.uuid4()
        values = {
            "drawing_id": drawing_id,
            "name": body.name,
            "description": body.description,
            "sponsor_id": caller.user_id,
            "ticket_cost_points": body.ticket_cost_points,
            "max_tickets_per_user": body.max_tickets_per_user,
            "sales_open_at": body.sales_open_at,
            "sales_close_at": body.sales_close_at,
            "drawing_at": body.drawing_at,
            "min_age": body.eligibility.min_age if body.eligibility else None,
            "regions": body.eligibility.regions if body.eligibility else None,
            "status": "draft",
            "created_at": now,
            "updated_at": now,
        }
        await repo.insert_drawing(session, values, _prize_rows(drawing_id, body.prizes))
        await repo.audit(
            session, caller.user_id, "drawing.created", f"drawing:{drawing_id}", {}, now
        )
        return await self.drawing(session, drawing_id, caller, manage=True)

    async def update_drawing(
        self, session: AsyncSession, caller: Caller, drawing_id: uuid.UUID, body: Any
    ) -> dict[str, Any]:
        """Edit a draft, or move the drawing along its state machine (409 otherwise)."""
        row = await self._locked(session, drawing_id)
        await self._may_manage(session, caller, row.sponsor_id)
        now = self.clock()
        changes = body.model_dump(exclude_unset=True, exclude={"status"})
        if changes:
            if row.status != "draft":
                raise RewardsError(
                    "conflict", "DRAWING_NOT_EDITABLE", "Only a draft drawing can be edited."
                )
            values = {k: v for k, v in changes.items() if k not in ("prizes", "eligibility")}
            if "eligibility" in changes:
                eligibility = body.eligibility
                values["min_age"] = eligibility.min_age if eligibility else None
                values["regions"] = eligibility.regions if eligibility else None
            merged = {**row._mapping, **values}
            if not (merged["sales_open_at"] < merged["sales_close_at"] <= merged["drawing_at"]):
                raise RewardsError(
                    "invalid",
                    "VALIDATION_ERROR",
                    "Sales must open before they close, and close no later than the drawing.",
                )
            if values:
                await repo.update_drawing(session, drawing_id, updated_at=now, **values)
            if body.prizes is not None:
                await repo.replace_prizes(session, drawing_id, _prize_rows(drawing_id, body.prizes))
        if body.status is not None and body.status != row.status:
            await self.move(session, caller, drawing_id, body.status)
        return await self.drawing(session, drawing_id, caller, manage=True)

    async def _locked(self, session: AsyncSession, drawing_id: uuid.UUID) -> Row[Any]:
        row = await repo.get_drawing(session, drawing_id, lock=True)
        if row is None:
            raise RewardsError("not_found", "DRAWING_NOT_FOUND", "No such drawing.")
        return row

    async def move(
        self, session: AsyncSession, caller: Caller | None, drawing_id: uuid.UUID, target: str
    ) -> bool:
        """Move a drawing to `target`; False when it is already there (idempotent)."""
        row = await self._locked(session, drawing_id)
        if row.status == target:
            return False
        if not domain.can_move(row.status, target):
            raise RewardsError(
                "conflict",
                "INVALID_TRANSITION",
                f"A {row.status} drawing cannot become {target}.",
                {"status": row.status},
            )
        if target == "completed":
            return await self.execute(session, caller, drawing_id)
        if target == "cancelled":
            await self._cancel(session, row)
        elif target == "closed":
            await self._close(session, row)
        else:
            now = self.clock()
            extra = {"opened_at": now} if target == "open" else {}
            await repo.update_drawing(session, drawing_id, status=target, updated_at=now, **extra)
        await repo.audit(
            session,
            caller.user_id if caller else None,
            f"drawing.{target}",
            f"drawing:{drawing_id}",
            {"from": row.status},
            self.clock(),
        )
        return True

    async def _close(self, session: AsyncSession, row: Row[Any]) -> None:
        """Freeze the ticket list, draw the seed and publish its commitment (commit-reveal)."""
        now = self.clock()
        holders = await self._holders(session, row.drawing_id)
        seed = secrets.token_bytes(domain.SEED_BYTES).hex()
        await repo.update_drawing(
            session,
            row.drawing_id,
            status="closed",
            closed_at=now,
            updated_at=now,
            procedure=domain.PROCEDURE,
            seed=seed,
            commitment=domain.commitment(seed),
            tickets_digest=domain.tickets_digest(holders),
        )

    async def _holders(self, session: AsyncSession, drawing_id: uuid.UUID) -> list[str]:
        return [
            domain.holder_pseudonym(str(drawing_id), str(user_id))
            for user_id in await repo.ticket_holders(session, drawing_id)
        ]

    async def _cancel(self, session: AsyncSession, row: Row[Any]) -> None:
        """Cancel and refund every purchase exactly once."""
        now = self.clock()
        for purchase in await repo.unrefunded_purchases(session, row.drawing_id):
            if not await repo.mark_refunded(session, purchase.purchase_id, now):
                continue
            await self._credit(
                session,
                purchase.user_id,
                purchase.points,
                kind="refund",
                reason=f"refund: “{row.name}” was cancelled",
                source=f"refund:{purchase.purchase_id}",
                reference=f"drawing:{row.drawing_id}",
                expires=True,
            )
        await repo.update_drawing(
            session, row.drawing_id, status="cancelled", cancelled_at=now, updated_at=now
        )

    async def execute(
        self, session: AsyncSession, caller: Caller | None, drawing_id: uuid.UUID
    ) -> bool:
        """Draw the winners of a closed drawing; False when it was already completed.

        The drawing row is locked, so a retry or a second replica waits and then
        finds it completed: winners are drawn exactly once.
        """
        row = await self._locked(session, drawing_id)
        if row.status == "completed":
            return False
        if row.status != "closed":
            raise RewardsError(
                "conflict",
                "INVALID_TRANSITION",
                f"Only a closed drawing is executed; this one is {row.status}.",
                {"status": row.status},
            )
        now = self.clock()
        user_ids = await repo.ticket_holders(session, drawing_id)
        holders = [domain.holder_pseudonym(str(drawing_id), str(u)) for u in user_ids]
        if domain.tickets_digest(holders) != row.tickets_digest:
            raise RuntimeError("the ticket list changed after the drawing closed")
        by_holder = dict(zip(holders, user_ids, strict=True))
        prize_rows = {p.rank: p for p in await repo.prizes_of(session, [drawing_id])}
        units = domain.prize_units((rank, p.quantity) for rank, p in prize_rows.items())
        stream = domain.DrawStream(row.seed, holders)
        for unit in units:
            pick = stream.next_pick(unit.unit)
            if pick is None:
                break
            prize = prize_rows[unit.rank]
            await self._award(session, row, prize, unit, pick, by_holder[pick.holder], 0, now)
        await repo.update_drawing(
            session,
            drawing_id,
            status="completed",
            completed_at=now,
            updated_at=now,
            next_counter=stream.counter,
        )
        await repo.audit(
            session,
            caller.user_id if caller else None,
            "drawing.completed",
            f"drawing:{drawing_id}",
            {"tickets": len(holders), "counter": stream.counter},
            now,
        )
        return True

    async def _award(
        self,
        session: AsyncSession,
        drawing: Row[Any],
        prize: Row[Any],
        unit: domain.PrizeUnit,
        pick: domain.Pick,
        user_id: uuid.UUID,
        round_: int,
        now: datetime,
    ) -> None:
        """Record a winner; digital prizes are delivered at once, physical ones await an address."""
        digital = prize.kind == "digital"
        code = None
        if digital:
            codes = list(prize.codes or [])
            code = codes[unit.index] if unit.index < len(codes) else _generated_code()
        claim_by = None if digital else now + timedelta(days=self.settings.claim_forfeit_days)
        values = {
            "fulfillment_id": uuid.uuid4(),
            "drawing_id": drawing.drawing_id,
            "prize_id": prize.prize_id,
            "slot": unit.unit,
            "round": round_,
            "ticket_number": pick.ticket_number,
            "user_id": user_id,
            "draw_counter": pick.counter,
            "kind": prize.kind,
            "status": "delivered" if digital else "awaiting_address",
            "code": code,
            "notified_at": now,
            "claim_by": claim_by,
            "delivered_at": now if digital else None,
            "updated_at": now,
        }
        await repo.insert_fulfillment(session, values)
        await self._announce(
            session, values, drawing.name, prize, "delivered" if digital else "won"
        )

    async def _announce(
        self,
        session: AsyncSession,
        row: Any,
        drawing_name: str,
        prize: Row[Any],
        change: str,
    ) -> None:
        get = row.get if isinstance(row, dict) else row._mapping.get
        await self.outbox.add(
            session,
            new_event(
                FulfillmentUpdated,
                PRODUCER,
                FulfillmentData(
                    fulfillment_id=get("fulfillment_id"),
                    user_id=get("user_id"),
                    drawing_id=get("drawing_id"),
                    drawing_name=drawing_name,
                    prize_rank=prize.rank,
                    prize_name=prize.name,
                    kind=prize.kind,
                    status=get("status"),
                    change=change,
                    claim_by=get("claim_by"),
                    carrier=get("carrier"),
                    tracking_number=get("tracking_number"),
                    code=get("code") if change == "delivered" else None,
                ),
            ),
        )

    # --- tickets ---------------------------------------------------------------------

    async def buy_tickets(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        drawing_id: uuid.UUID,
        quantity: int,
        idempotency_key: str | None,
        birthdate: date | None,
        region: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """Buy tickets atomically; return the answer and whether it was a replay of a key."""
        fingerprint = hashlib.sha256(json.dumps([str(drawing_id), quantity]).encode()).hexdigest()
        row = await self._locked(session, drawing_id)
        key = hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key else None
        if key is not None:
            # Checked under the drawing lock: a concurrent twin has committed by now.
            previous = await repo.purchase_by_key(session, user_id, key)
            if previous is not None:
                if previous.fingerprint != fingerprint:
                    raise RewardsError(
                        "invalid",
                        "IDEMPOTENCY_KEY_REUSED",
                        "This Idempotency-Key was used for a different request.",
                    )
                return dict(previous.response), True
        now = self.clock()
        if row.status != "open" or not (row.sales_open_at <= now < row.sales_close_at):
            raise RewardsError(
                "conflict",
                "DRAWING_NOT_OPEN",
                "Tickets are sold only while the drawing is open.",
                {"status": row.status},
            )
        if birthdate is not None or region is not None:
            await repo.save_declaration(
                session,
                user_id,
                birthdate=birthdate,
                region=region.upper() if region else None,
                declared_at=now,
            )
        if user_id == row.sponsor_id:
            raise RewardsError(
                "forbidden",
                "NOT_ELIGIBLE",
                "Sponsors do not enter their own drawings.",
                {"reason": "SPONSOR_OF_DRAWING"},
            )
        declared = await repo.get_declaration(session, user_id)
        refusal = domain.eligibility_refusal(
            row.min_age,
            row.regions,
            declared.birthdate if declared else None,
            declared.region if declared else None,
            now.date(),
        )
        if refusal is not None:
            raise RewardsError("forbidden", "NOT_ELIGIBLE", _REFUSALS[refusal], {"reason": refusal})
        held = await repo.tickets_held(session, drawing_id, user_id)
        if held + quantity > row.max_tickets_per_user:
            raise RewardsError(
                "conflict",
                "TICKET_LIMIT",
                f"At most {row.max_tickets_per_user} tickets per person in this drawing.",
                {"limit": row.max_tickets_per_user, "held": held},
            )
        cost = quantity * row.ticket_cost_points
        wallet = await repo.lock_wallet(session, user_id)
        if wallet.balance < cost:
            raise RewardsError(
                "conflict",
                "INSUFFICIENT_POINTS",
                f"{quantity} ticket(s) cost {cost} points; the wallet holds {wallet.balance}.",
                {"balance": wallet.balance, "cost": cost},
            )
        await self._take(session, user_id, cost)
        balance = wallet.balance - cost
        await repo.set_wallet(session, user_id, balance, wallet.debt)
        purchase_id = uuid.uuid4()
        first = row.ticket_count + 1
        numbers = list(range(first, first + quantity))
        await repo.add_entry(
            session,
            user_id=user_id,
            kind="spend",
            points=-cost,
            balance_after=balance,
            reason=f"{quantity} ticket(s) for “{row.name}”",
            reference=f"drawing:{drawing_id}",
            source=f"spend:{purchase_id}",
            at=now,
        )
        await repo.insert_tickets(
            session,
            [
                {
                    "drawing_id": drawing_id,
                    "number": n,
                    "user_id": user_id,
                    "purchase_id": purchase_id,
                    "created_at": now,
                }
                for n in numbers
            ],
        )
        total = row.ticket_count + quantity
        await repo.update_drawing(session, drawing_id, ticket_count=total, updated_at=now)
        chance = domain.odds(held + quantity, total)
        answer = {
            "purchase_id": str(purchase_id),
            "drawing_id": str(drawing_id),
            "tickets": numbers,
            "quantity": quantity,
            "points_spent": cost,
            "balance": balance,
            "odds": _odds_json(chance),
            "purchased_at": now.isoformat(),
        }
        try:
            await repo.insert_purchase(
                session,
                {
                    "purchase_id": purchase_id,
                    "drawing_id": drawing_id,
                    "user_id": user_id,
                    "quantity": quantity,
                    "points": cost,
                    "first_number": first,
                    "idempotency_key": key,
                    "fingerprint": fingerprint if key else None,
                    "response": answer,
                    "created_at": now,
                },
            )
        except IntegrityError as exc:
            # The same key used at the same moment for another drawing.
            raise RewardsError(
                "conflict",
                "IDEMPOTENCY_KEY_IN_USE",
                "A request with this Idempotency-Key is in progress; retry shortly.",
            ) from exc
        return answer, False

    # --- reads -----------------------------------------------------------------------

    async def drawing(
        self,
        session: AsyncSession,
        drawing_id: uuid.UUID,
        caller: Caller | None,
        *,
        manage: bool = False,
    ) -> dict[str, Any]:
        """Return a drawing with prizes and, for a signed-in caller, their tickets and odds."""
        row = await repo.get_drawing(session, drawing_id)
        if row is None or (
            row.status == "draft"
            and not (caller and (caller.is_admin or caller.user_id == row.sponsor_id))
        ):
            raise RewardsError("not_found", "DRAWING_NOT_FOUND", "No such drawing.")
        prizes = await repo.prizes_of(session, [drawing_id])
        mine = await repo.my_ticket_counts(session, caller.user_id, [drawing_id]) if caller else {}
        return _drawing_json(row, prizes, mine.get(drawing_id, 0), caller is not None, manage)

    async def drawings(
        self,
        session: AsyncSession,
        caller: Caller | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> tuple[list[dict[str, Any]], tuple[datetime, uuid.UUID] | None]:
        """Return a page of drawings and the position after its last one."""
        rows = await repo.list_drawings(
            session,
            status=status,
            visible_to=caller.user_id if caller else None,
            admin=bool(caller and caller.is_admin),
            limit=limit + 1,
            after=after,
        )
        page = rows[:limit]
        ids = [r.drawing_id for r in page]
        prizes = await repo.prizes_of(session, ids)
        mine = await repo.my_ticket_counts(session, caller.user_id, ids) if caller else {}
        items = [
            _drawing_json(
                r,
                [p for p in prizes if p.drawing_id == r.drawing_id],
                mine.get(r.drawing_id, 0),
                caller is not None,
                False,
            )
            for r in page
        ]
        last = (page[-1].sales_close_at, page[-1].drawing_id) if len(rows) > limit else None
        return items, last

    async def my_tickets(self, session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
        """Return the user's tickets grouped per drawing."""
        grouped: dict[uuid.UUID, dict[str, Any]] = {}
        for row in await repo.user_tickets(session, user_id):
            item = grouped.setdefault(
                row.drawing_id,
                {
                    "drawing_id": row.drawing_id,
                    "drawing_name": row.name,
                    "status": row.status,
                    "drawing_at": row.drawing_at,
                    "numbers": [],
                },
            )
            item["numbers"].append(row.number)
        for item in grouped.values():
            item["count"] = len(item["numbers"])
        return list(grouped.values())

    async def results(self, session: AsyncSession, drawing_id: uuid.UUID) -> dict[str, Any]:
        """Return the winners of a completed drawing: display names, prizes, ticket numbers."""
        row = await repo.get_drawing(session, drawing_id)
        if row is None or row.status == "draft":
            raise RewardsError("not_found", "DRAWING_NOT_FOUND", "No such drawing.")
        if row.status != "completed":
            raise RewardsError(
                "conflict",
                "DRAWING_NOT_COMPLETED",
                "Results are published once the drawing is completed.",
                {"status": row.status},
            )
        prizes = {p.prize_id: p for p in await repo.prizes_of(session, [drawing_id])}
        winners = await repo.fulfillments_of_drawing(session, drawing_id)
        names = await repo.display_names(session, {w.user_id for w in winners})
        return {
            "drawing_id": drawing_id,
            "name": row.name,
            "total_tickets": row.ticket_count,
            "completed_at": row.completed_at,
            "winners": [
                {
                    "unit": w.slot,
                    "round": w.round,
                    "prize_rank": prizes[w.prize_id].rank,
                    "prize_name": prizes[w.prize_id].name,
                    "ticket_number": w.ticket_number,
                    "user_id": w.user_id,
                    "display_name": names.get(w.user_id, "a participant"),
                    "forfeited": w.status == "forfeited",
                }
                for w in sorted(winners, key=lambda w: (w.slot, w.round))
            ],
        }

    async def proof(self, session: AsyncSession, drawing_id: uuid.UUID) -> dict[str, Any]:
        """Return what anyone needs to recompute the winners (the seed once completed)."""
        row = await repo.get_drawing(session, drawing_id)
        if row is None or row.status == "draft":
            raise RewardsError("not_found", "DRAWING_NOT_FOUND", "No such drawing.")
        prizes = await repo.prizes_of(session, [drawing_id])
        by_id = {p.prize_id: p for p in prizes}
        units = domain.prize_units((p.rank, p.quantity) for p in prizes)
        published = row.status in ("closed", "completed") and row.commitment is not None
        completed = row.status == "completed"
        winners = await repo.fulfillments_of_drawing(session, drawing_id) if completed else []
        return {
            "drawing_id": drawing_id,
            "status": row.status,
            "procedure": row.procedure or domain.PROCEDURE,
            "commitment": row.commitment,
            "seed": row.seed if completed else None,
            "tickets_digest": row.tickets_digest,
            "tickets": await self._holders(session, drawing_id) if published else None,
            "units": [
                {"unit": u.unit, "prize_rank": u.rank, "prize_name": _prize_at(prizes, u.rank)}
                for u in units
            ],
            "redraws": [w.slot for w in winners if w.round > 0],
            "winners": [
                {
                    "unit": w.slot,
                    "round": w.round,
                    "prize_rank": by_id[w.prize_id].rank,
                    "ticket_number": w.ticket_number,
                    "holder": domain.holder_pseudonym(str(drawing_id), str(w.user_id)),
                    "counter": w.draw_counter,
                }
                for w in winners
            ],
        }

    # --- fulfilment ------------------------------------------------------------------

    async def fulfillments(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> tuple[list[dict[str, Any]], tuple[datetime, uuid.UUID] | None]:
        """Return a page of fulfilments (one winner's, or all for admins)."""
        rows = await repo.list_fulfillments(
            session, user_id=user_id, status=status, limit=limit + 1, after=after
        )
        page = rows[:limit]
        items = await self._fulfillments_json(session, page)
        last = (page[-1].notified_at, page[-1].fulfillment_id) if len(rows) > limit else None
        return items, last

    async def _fulfillment_json(self, session: AsyncSession, row: Row[Any]) -> dict[str, Any]:
        (item,) = await self._fulfillments_json(session, [row])
        return item

    async def _fulfillments_json(
        self, session: AsyncSession, rows: Sequence[Row[Any]]
    ) -> list[dict[str, Any]]:
        """Fulfilment rows as the API shows them, with their drawings and prizes read once."""
        drawing_ids = sorted({row.drawing_id for row in rows})
        names = await repo.drawing_names(session, drawing_ids)
        prizes = {p.prize_id: p for p in await repo.prizes_of(session, drawing_ids)}
        return [_fulfillment_view(row, names[row.drawing_id], prizes[row.prize_id]) for row in rows]

    async def _fulfillment(
        self, session: AsyncSession, fulfillment_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> Row[Any]:
        row = await repo.get_fulfillment(session, fulfillment_id, lock=True)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise RewardsError("not_found", "FULFILLMENT_NOT_FOUND", "No such prize.")
        return row

    async def set_address(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        fulfillment_id: uuid.UUID,
        address: dict[str, Any],
    ) -> dict[str, Any]:
        """Take the winner's shipping address for a physical prize (not after shipping)."""
        row = await self._fulfillment(session, fulfillment_id, user_id)
        if row.kind != "physical" or row.status not in ("awaiting_address", "address_confirmed"):
            raise RewardsError(
                "conflict",
                "FULFILLMENT_NOT_AWAITING_ADDRESS",
                "This prize does not take an address now.",
                {"status": row.status},
            )
        now = self.clock()
        await repo.update_fulfillment(
            session,
            fulfillment_id,
            address=address,
            status="address_confirmed",
            address_at=now,
            updated_at=now,
        )
        await repo.audit(
            session, user_id, "fulfillment.address_given", f"fulfillment:{fulfillment_id}", {}, now
        )
        return await self._fulfillment_json(
            session, await self._fulfillment(session, fulfillment_id, None)
        )

    async def ship(
        self,
        session: AsyncSession,
        admin: Caller,
        fulfillment_id: uuid.UUID,
        carrier: str,
        tracking_number: str,
    ) -> dict[str, Any]:
        """Mark a prize shipped with its carrier and tracking number; the winner is told."""
        row = await self._fulfillment(session, fulfillment_id, None)
        if row.status != "address_confirmed":
            raise RewardsError(
                "conflict",
                "INVALID_TRANSITION",
                f"A {row.status} prize cannot be shipped.",
                {"status": row.status},
            )
        now = self.clock()
        await repo.update_fulfillment(
            session,
            fulfillment_id,
            status="shipped",
            carrier=carrier,
            tracking_number=tracking_number,
            shipped_at=now,
            updated_at=now,
        )
        return await self._after_admin_change(session, admin, fulfillment_id, "shipped", now)

    async def advance(
        self, session: AsyncSession, admin: Caller, fulfillment_id: uuid.UUID, status: str
    ) -> dict[str, Any]:
        """Admin: mark a shipped prize delivered, or forfeit an unclaimed one (then redraw)."""
        row = await self._fulfillment(session, fulfillment_id, None)
        now = self.clock()
        if status == "delivered" and row.status == "shipped":
            await repo.update_fulfillment(
                session, fulfillment_id, status="delivered", delivered_at=now, updated_at=now
            )
            return await self._after_admin_change(session, admin, fulfillment_id, "delivered", now)
        if status == "forfeited" and row.status in ("awaiting_address", "address_confirmed"):
            await self._forfeit(session, row, now)
            await repo.audit(
                session,
                admin.user_id,
                "fulfillment.forfeited",
                f"fulfillment:{fulfillment_id}",
                {},
                now,
            )
            return await self._fulfillment_json(
                session, await self._fulfillment(session, fulfillment_id, None)
            )
        raise RewardsError(
            "conflict",
            "INVALID_TRANSITION",
            f"A {row.status} prize cannot become {status}.",
            {"status": row.status},
        )

    async def _after_admin_change(
        self,
        session: AsyncSession,
        admin: Caller,
        fulfillment_id: uuid.UUID,
        change: str,
        now: datetime,
    ) -> dict[str, Any]:
        row = await self._fulfillment(session, fulfillment_id, None)
        await self._notify(session, row, change)
        await repo.audit(
            session,
            admin.user_id,
            f"fulfillment.{change}",
            f"fulfillment:{fulfillment_id}",
            {},
            now,
        )
        return await self._fulfillment_json(session, row)

    async def _notify(self, session: AsyncSession, row: Row[Any], change: str) -> None:
        drawing = await repo.get_drawing(session, row.drawing_id)
        assert drawing is not None
        prize = await repo.get_prize(session, row.prize_id)
        await self._announce(session, row, drawing.name, prize, change)

    async def _forfeit(self, session: AsyncSession, row: Row[Any], now: datetime) -> None:
        """Forfeit an unclaimed prize and draw an alternate from the same committed stream."""
        drawing = await self._locked(session, row.drawing_id)
        await repo.update_fulfillment(
            session, row.fulfillment_id, status="forfeited", forfeited_at=now, updated_at=now
        )
        forfeited = await self._fulfillment(session, row.fulfillment_id, None)
        await self._notify(session, forfeited, "forfeited")
        user_ids = await repo.ticket_holders(session, row.drawing_id)
        holders = [domain.holder_pseudonym(str(row.drawing_id), str(u)) for u in user_ids]
        by_holder = dict(zip(holders, user_ids, strict=True))
        previous = await repo.fulfillments_of_drawing(session, row.drawing_id)
        stream = domain.DrawStream(
            drawing.seed,
            holders,
            counter=drawing.next_counter,
            excluded={
                domain.holder_pseudonym(str(row.drawing_id), str(p.user_id)) for p in previous
            },
        )
        pick = stream.next_pick(row.slot)
        if pick is None:
            return  # everybody holding a ticket has already won: the unit stays unawarded
        prize = await repo.get_prize(session, row.prize_id)
        units = domain.prize_units([(prize.rank, prize.quantity)])
        unit = domain.PrizeUnit(row.slot, prize.rank, units[0].index)
        rounds = max(p.round for p in previous if p.slot == row.slot)
        await self._award(
            session, drawing, prize, unit, pick, by_holder[pick.holder], rounds + 1, now
        )
        await repo.update_drawing(session, row.drawing_id, next_counter=stream.counter)

    async def remind_and_forfeit(self, session: AsyncSession) -> tuple[int, int]:
        """Remind winners silent for 7 days; forfeit and redraw after 14 (settings)."""
        now = self.clock()
        forfeit_before = now - timedelta(days=self.settings.claim_forfeit_days)
        remind_before = now - timedelta(days=self.settings.claim_reminder_days)
        forfeited = 0
        for fulfillment_id in await repo.claims_due(
            session, notified_before=forfeit_before, unreminded=False
        ):
            row = await self._fulfillment(session, fulfillment_id, None)
            if row.status == "awaiting_address":
                await self._forfeit(session, row, now)
                await repo.audit(
                    session, None, "fulfillment.forfeited", f"fulfillment:{fulfillment_id}", {}, now
                )
                forfeited += 1
        reminded = 0
        for fulfillment_id in await repo.claims_due(
            session, notified_before=remind_before, unreminded=True
        ):
            row = await self._fulfillment(session, fulfillment_id, None)
            if row.status == "awaiting_address" and row.reminded_at is None:
                await repo.update_fulfillment(
                    session, fulfillment_id, reminded_at=now, updated_at=now
                )
                await self._notify(session, row, "reminder")
                reminded += 1
        return reminded, forfeited


_REFUSALS = {
    "BIRTHDATE_REQUIRED": "This drawing has a minimum age: declare your birthdate.",
    "UNDER_MIN_AGE": "You are under this drawing's minimum age.",
    "REGION_REQUIRED": "This drawing is limited to some regions: declare your region.",
    "REGION_NOT_ALLOWED": "This drawing is not open to your region.",
}


def _generated_code() -> str:
    """A redemption code for a digital prize whose sponsor gave none."""
    raw = secrets.token_hex(8).upper()
    return f"PODIUM-{raw[:4]}-{raw[4:8]}-{raw[8:12]}-{raw[12:]}"


def _prize_rows(drawing_id: uuid.UUID, prizes: Any) -> list[dict[str, Any]]:
    return [
        {
            "prize_id": uuid.uuid4(),
            "drawing_id": drawing_id,
            "rank": p.rank,
            "name": p.name,
            "value": p.value,
            "kind": p.kind,
            "quantity": p.quantity,
            "codes": list(p.codes or []),
        }
        for p in prizes
    ]


def _prize_at(prizes: Any, rank: int) -> str:
    name: str = next(p.name for p in prizes if p.rank == rank)
    return name


def _odds_json(chance: domain.Odds) -> dict[str, Any]:
    return {
        "my_tickets": chance.my_tickets,
        "total_tickets": chance.total_tickets,
        "chance": chance.chance,
        "one_in": chance.one_in,
    }


def _drawing_json(
    row: Row[Any], prizes: Any, mine: int, signed_in: bool, manage: bool
) -> dict[str, Any]:
    """A drawing as the API shows it; prize codes never leave the service."""
    return {
        "id": row.drawing_id,
        "name": row.name,
        "description": row.description,
        "sponsor_id": row.sponsor_id,
        "status": row.status,
        "ticket_cost_points": row.ticket_cost_points,
        "max_tickets_per_user": row.max_tickets_per_user,
        "sales_open_at": row.sales_open_at,
        "sales_close_at": row.sales_close_at,
        # SPEC §10.4 names the end of sales `closes_at` in the details.
        "closes_at": row.sales_close_at,
        "drawing_at": row.drawing_at,
        "eligibility": {"min_age": row.min_age, "regions": row.regions},
        "prizes": [
            {
                "rank": p.rank,
                "name": p.name,
                "value": float(p.value),
                "kind": p.kind,
                "quantity": p.quantity,
                **({"codes_given": len(p.codes or [])} if manage else {}),
            }
            for p in prizes
        ],
        "total_tickets": row.ticket_count,
        "commitment": row.commitment,
        "tickets_digest": row.tickets_digest,
        "completed_at": row.completed_at,
        "my_tickets": mine if signed_in else None,
        "odds": _odds_json(domain.odds(mine, row.ticket_count)) if signed_in else None,
        "odds_with_one_more": (
            _odds_json(domain.odds(mine + 1, row.ticket_count + 1)) if signed_in else None
        ),
    }


def _fulfillment_view(row: Row[Any], drawing_name: str, prize: Row[Any]) -> dict[str, Any]:
    """One prize on its way, as the API shows it (the address only to winner and admins)."""
    return {
        "id": row.fulfillment_id,
        "drawing_id": row.drawing_id,
        "drawing_name": drawing_name,
        "user_id": row.user_id,
        "prize": {
            "rank": prize.rank,
            "name": prize.name,
            "kind": prize.kind,
            "value": float(prize.value),
        },
        "ticket_number": row.ticket_number,
        "status": row.status,
        "address": row.address,
        "carrier": row.carrier,
        "tracking_number": row.tracking_number,
        "code": row.code,
        "notified_at": row.notified_at,
        "claim_by": row.claim_by,
        "reminded_at": row.reminded_at,
        "shipped_at": row.shipped_at,
        "delivered_at": row.delivered_at,
        "forfeited_at": row.forfeited_at,
    }

"""Request and response models of the rewards internal API (the gateway shows the same shapes)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,10}[A-Za-z0-9]$")


def _region(value: str) -> str:
    value = value.strip().upper()
    if not _REGION.match(value):
        raise ValueError("a region is an ISO 3166-1 alpha-2 country or 3166-2 code, e.g. US-CA")
    return value


class Eligibility(BaseModel):
    """Who may enter: a minimum age and the allowed regions (ISO 3166 codes)."""

    model_config = ConfigDict(extra="forbid")

    min_age: int | None = Field(default=None, ge=0, le=120)
    regions: list[str] | None = Field(default=None, max_length=300)

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str] | None) -> list[str] | None:
        return [_region(v) for v in value] if value else None


class PrizeIn(BaseModel):
    """One prize of a drawing; `quantity` units are awarded in rank order."""

    model_config = ConfigDict(extra="forbid")

    rank: int = Field(ge=1, le=1000)
    name: str = Field(min_length=1, max_length=200)
    value: Decimal = Field(ge=0, le=Decimal("10000000"), decimal_places=2)
    kind: Literal["physical", "digital"]
    quantity: int = Field(default=1, ge=1, le=1000)
    #: Digital prizes: the codes to deliver, one per unit (generated when omitted).
    codes: list[str] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _codes(self) -> PrizeIn:
        if self.codes is not None:
            if self.kind != "digital":
                raise ValueError("only digital prizes carry codes")
            if len(self.codes) != self.quantity or any(not 0 < len(c) <= 200 for c in self.codes):
                raise ValueError("give one code (1-200 characters) per unit of the prize")
        return self


def _check_prizes(prizes: list[PrizeIn] | None) -> None:
    if prizes is not None and len({p.rank for p in prizes}) != len(prizes):
        raise ValueError("prize ranks must be distinct")


class DrawingCreate(BaseModel):
    """Body of `POST /v1/admin/drawings`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    ticket_cost_points: int = Field(ge=1, le=1_000_000)
    max_tickets_per_user: int = Field(ge=1, le=100_000)
    sales_open_at: AwareDatetime
    sales_close_at: AwareDatetime
    drawing_at: AwareDatetime
    prizes: list[PrizeIn] = Field(min_length=1, max_length=50)
    eligibility: Eligibility | None = None

    @model_validator(mode="after")
    def _times(self) -> DrawingCreate:
        if not self.sales_open_at < self.sales_close_at:
            raise ValueError("Sales must open before they close")
        if not self.sales_close_at <= self.drawing_at:
            raise ValueError("Sales close time must be before drawing time")
        _check_prizes(self.prizes)
        return self


class DrawingUpdate(BaseModel):
    """Body of `PATCH /v1/admin/drawings/{id}`: edits (draft only) and/or a new status."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    ticket_cost_points: int | None = Field(default=None, ge=1, le=1_000_000)
    max_tickets_per_user: int | None = Field(default=None, ge=1, le=100_000)
    sales_open_at: AwareDatetime | None = None
    sales_close_at: AwareDatetime | None = None
    drawing_at: AwareDatetime | None = None
    prizes: list[PrizeIn] | None = Field(default=None, min_length=1, max_length=50)
    eligibility: Eligibility | None = None
    status: Literal["draft", "scheduled", "open", "closed", "completed", "cancelled"] | None = None

    @model_validator(mode="after")
    def _prizes(self) -> DrawingUpdate:
        _check_prizes(self.prizes)
        for name in (
            "name",
            "ticket_cost_points",
            "max_tickets_per_user",
            "sales_open_at",
            "sales_close_at",
            "drawing_at",
            "prizes",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class TicketPurchase(BaseModel):
    """Body of `POST /v1/drawings/{id}/tickets`; birthdate and region declare eligibility once."""

    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=1, le=1000)
    birthdate: date | None = None
    region: str | None = Field(default=None, max_length=6)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return _region(value) if value else None

    @field_validator("birthdate")
    @classmethod
    def _birthdate(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("the birthdate must be a past date after 1900")
        return value


class Adjustment(BaseModel):
    """Body of `POST /v1/admin/wallets/{user_id}/adjust`."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-10_000_000, le=10_000_000)
    reason: str = Field(min_length=3, max_length=500)

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment adds or removes at least one point")
        return value


class Address(BaseModel):
    """A shipping address (personal data: shown only to the winner and admins, never logged)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=120)
    line1: str = Field(min_length=3, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=3, max_length=12)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, max_length=30, pattern=r"^\+?[0-9 ()\-]{5,30}$")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("country is an ISO 3166-1 alpha-2 code, e.g. FR")
        return value

    @field_validator("postal_code")
    @classmethod
    def _postal(cls, value: str) -> str:
        if not _POSTAL.match(value):
            raise ValueError("postal_code holds letters, digits, spaces and dashes")
        return value


class Shipment(BaseModel):
    """Body of `POST /v1/admin/fulfillments/{id}/ship`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    carrier: str = Field(min_length=2, max_length=100)
    tracking_number: str = Field(min_length=4, max_length=100, pattern=r"^[A-Za-z0-9\-]+$")


class FulfillmentUpdate(BaseModel):
    """Body of `PATCH /v1/admin/fulfillments/{id}`."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["delivered", "forfeited"]


# --- responses ------------------------------------------------------------------------


class ExpiringPoints(BaseModel):
    """Points of one lot that expire soon."""

    points: int
    expires_at: AwareDatetime


class Wallet(BaseModel):
    """A user's wallet: balance, revoked points still owed, points expiring soon."""

    user_id: uuid.UUID
    balance: int
    debt: int
    expiring: list[ExpiringPoints]


class Transaction(BaseModel):
    """One ledger entry; `points` is signed."""

    id: int
    kind: Literal["earn", "spend", "refund", "adjust", "expire", "revoke"]
    points: int
    balance_after: int
    reason: str
    reference: str | None
    at: AwareDatetime


class TransactionPage(BaseModel):
    """A page of the ledger, newest first."""

    items: list[Transaction]
    next_cursor: str | None


class Odds(BaseModel):
    """Chance on one draw: my tickets over all tickets (`one_in` = total / mine)."""

    my_tickets: int
    total_tickets: int
    chance: float
    one_in: float | None


class PrizeOut(BaseModel):
    """A prize as shown to everyone (codes never leave the service)."""

    rank: int
    name: str
    value: float
    kind: Literal["physical", "digital"]
    quantity: int
    codes_given: int | None = None


class EligibilityOut(BaseModel):
    """Who may enter."""

    min_age: int | None
    regions: list[str] | None


class Drawing(BaseModel):
    """A drawing with prizes, cost, times, commitment and, when signed in, my tickets and odds."""

    id: uuid.UUID
    name: str
    description: str
    sponsor_id: uuid.UUID
    status: Literal["draft", "scheduled", "open", "closed", "completed", "cancelled"]
    ticket_cost_points: int
    max_tickets_per_user: int
    sales_open_at: AwareDatetime
    sales_close_at: AwareDatetime
    closes_at: AwareDatetime = Field(description="when ticket sales end (same as sales_close_at)")
    drawing_at: AwareDatetime
    eligibility: EligibilityOut
    prizes: list[PrizeOut]
    total_tickets: int
    commitment: str | None
    tickets_digest: str | None
    completed_at: AwareDatetime | None
    my_tickets: int | None
    odds: Odds | None
    odds_with_one_more: Odds | None


class DrawingPage(BaseModel):
    """A page of drawings, soonest closing first."""

    items: list[Drawing]
    next_cursor: str | None


class Purchase(BaseModel):
    """The answer to a ticket purchase: the ticket numbers, the balance left and my odds."""

    purchase_id: uuid.UUID
    drawing_id: uuid.UUID
    tickets: list[int]
    quantity: int
    points_spent: int
    balance: int
    odds: Odds
    purchased_at: AwareDatetime


class MyTickets(BaseModel):
    """My tickets in one drawing."""

    drawing_id: uuid.UUID
    drawing_name: str
    status: str
    drawing_at: AwareDatetime
    numbers: list[int]
    count: int


class MyTicketList(BaseModel):
    """My tickets across drawings."""

    items: list[MyTickets]


class Winner(BaseModel):
    """One prize unit's winner (round > 0: an alternate after a forfeit)."""

    unit: int
    round: int
    prize_rank: int
    prize_name: str
    ticket_number: int
    user_id: uuid.UUID
    display_name: str
    forfeited: bool


class Results(BaseModel):
    """The published results of a completed drawing."""

    drawing_id: uuid.UUID
    name: str
    total_tickets: int
    completed_at: AwareDatetime
    winners: list[Winner]


class ProofUnit(BaseModel):
    """A prize unit in draw order."""

    unit: int
    prize_rank: int
    prize_name: str


class ProofWinner(BaseModel):
    """A pick of the draw stream: the unit, the ticket, its holder pseudonym and the counter."""

    unit: int
    round: int
    prize_rank: int
    ticket_number: int
    holder: str
    counter: int


class Proof(BaseModel):
    """Everything needed to recompute the winners (docs/rewards-fairness.md)."""

    drawing_id: uuid.UUID
    status: str
    procedure: str
    commitment: str | None
    seed: str | None
    tickets_digest: str | None
    tickets: list[str] | None = Field(description="holder pseudonym of tickets 1..N")
    units: list[ProofUnit]
    redraws: list[int]
    winners: list[ProofWinner]


class FulfillmentPrize(BaseModel):
    """The prize of a fulfilment."""

    rank: int
    name: str
    kind: Literal["physical", "digital"]
    value: float


class Fulfillment(BaseModel):
    """A prize on its way to its winner."""

    id: uuid.UUID
    drawing_id: uuid.UUID
    drawing_name: str
    user_id: uuid.UUID
    prize: FulfillmentPrize
    ticket_number: int
    status: Literal["awaiting_address", "address_confirmed", "shipped", "delivered", "forfeited"]
    address: Address | None
    carrier: str | None
    tracking_number: str | None
    code: str | None
    notified_at: AwareDatetime
    claim_by: AwareDatetime | None
    reminded_at: AwareDatetime | None
    shipped_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    forfeited_at: AwareDatetime | None


class FulfillmentPage(BaseModel):
    """A page of fulfilments, newest first."""

    items: list[Fulfillment]
    next_cursor: str | None

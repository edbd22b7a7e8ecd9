"""Rewards routes of the public API: wallet, drawings, tickets, proofs, prizes (SPEC §10.4).

Every route is a synchronous call to the rewards service's internal API
(SPEC §6) whose answer, problems included, is passed through. Purchases honour
`Idempotency-Key` in the rewards database itself, in the same transaction as
the purchase: a retry with the same key returns the first answer and buys
nothing (`Idempotent-Replayed: true`). The drawing procedure and how to verify
a drawing: docs/rewards-fairness.md.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from podium_gateway.auth import AdminDep, OptionalUserDep, UserDep
from podium_gateway.clients import relay
from podium_gateway.clients.rewards import RewardsDep

router = APIRouter(tags=["rewards"])


ClientDep = RewardsDep
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]
DrawingStatus = Literal["draft", "scheduled", "open", "closed", "completed", "cancelled"]
FulfillmentStatus = Literal[
    "awaiting_address", "address_confirmed", "shipped", "delivered", "forfeited"
]

# --- documented shapes -----------------------------------------------------------------


class ExpiringPoints(BaseModel):
    """Points of one parcel that expire soon."""

    points: int
    expires_at: datetime


class Wallet(BaseModel):
    """My wallet: balance (never negative), revoked points still owed, points expiring soon."""

    user_id: uuid.UUID
    balance: int
    debt: int = Field(description="points revoked after they were spent; settled from new points")
    expiring: list[ExpiringPoints]


class Transaction(BaseModel):
    """One ledger entry; `points` is signed."""

    id: int
    kind: Literal["earn", "spend", "refund", "adjust", "expire", "revoke"]
    points: int
    balance_after: int
    reason: str
    reference: str | None
    at: datetime


class TransactionPage(BaseModel):
    """My ledger, newest first."""

    items: list[Transaction]
    next_cursor: str | None


class Odds(BaseModel):
    """My chance on one draw: my tickets over all tickets; `one_in` = total / mine."""

    my_tickets: int
    total_tickets: int
    chance: float
    one_in: float | None


class Prize(BaseModel):
    """A prize; `quantity` units are awarded in rank order."""

    rank: int
    name: str
    value: float
    kind: Literal["physical", "digital"]
    quantity: int


class Eligibility(BaseModel):
    """Who may enter: minimum age, allowed regions (ISO 3166 codes)."""

    min_age: int | None
    regions: list[str] | None


class Drawing(BaseModel):
    """A drawing; `commitment` is SHA-256 of the seed, published when sales close."""

    id: uuid.UUID
    name: str
    description: str
    sponsor_id: uuid.UUID
    status: DrawingStatus
    ticket_cost_points: int
    max_tickets_per_user: int
    sales_open_at: datetime
    sales_close_at: datetime
    closes_at: datetime = Field(description="when ticket sales end (same as sales_close_at)")
    drawing_at: datetime
    eligibility: Eligibility
    prizes: list[Prize]
    total_tickets: int
    commitment: str | None
    tickets_digest: str | None
    completed_at: datetime | None
    my_tickets: int | None
    odds: Odds | None
    odds_with_one_more: Odds | None


class DrawingPage(BaseModel):
    """Drawings, soonest closing first."""

    items: list[Drawing]
    next_cursor: str | None


class Purchase(BaseModel):
    """Tickets bought: their numbers, my balance after, my odds now."""

    purchase_id: uuid.UUID
    drawing_id: uuid.UUID
    tickets: list[int]
    quantity: int
    points_spent: int
    balance: int
    odds: Odds
    purchased_at: datetime


class TicketPurchase(BaseModel):
    """`quantity`, plus the birthdate and region the drawing's eligibility needs (declared once)."""

    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=1, le=1000)
    birthdate: date | None = None
    region: str | None = Field(default=None, description="ISO 3166-1 alpha-2 or 3166-2, e.g. US-CA")


class MyTickets(BaseModel):
    """My tickets in one drawing."""

    drawing_id: uuid.UUID
    drawing_name: str
    status: str
    drawing_at: datetime
    numbers: list[int]
    count: int


class MyTicketList(BaseModel):
    """My tickets across drawings."""

    items: list[MyTickets]


class Winner(BaseModel):
    """A prize unit's winner; `round` > 0 is an alternate drawn after a forfeit."""

    unit: int
    round: int
    prize_rank: int
    prize_name: str
    ticket_number: int
    user_id: uuid.UUID
    display_name: str
    forfeited: bool


class Results(BaseModel):
    """Winners (display names), prizes and ticket numbers of a completed drawing."""

    drawing_id: uuid.UUID
    name: str
    total_tickets: int
    completed_at: datetime
    winners: list[Winner]


class ProofWinner(BaseModel):
    """A pick of the draw stream."""

    unit: int
    round: int
    prize_rank: int
    ticket_number: int
    holder: str
    counter: int


class ProofUnit(BaseModel):
    """A prize unit in draw order."""

    unit: int
    prize_rank: int
    prize_name: str


class Proof(BaseModel):
    """What anyone needs to recompute the winners (`podium-rewards verify proof.json`)."""

    drawing_id: uuid.UUID
    status: str
    procedure: str
    commitment: str | None
    seed: str | None = Field(description="revealed once the drawing is completed")
    tickets_digest: str | None
    tickets: list[str] | None = Field(description="holder pseudonym of tickets 1..N")
    units: list[ProofUnit]
    redraws: list[int]
    winners: list[ProofWinner]


class Address(BaseModel):
    """A shipping address: readable only by the winner and admins, never logged."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=120)
    line1: str = Field(min_length=3, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=3, max_length=12)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, max_length=30)


class FulfillmentPrize(BaseModel):
    """The prize of a fulfilment."""

    rank: int
    name: str
    kind: Literal["physical", "digital"]
    value: float


class Fulfillment(BaseModel):
    """A prize on its way: awaiting_address → address_confirmed → shipped → delivered."""

    id: uuid.UUID
    drawing_id: uuid.UUID
    drawing_name: str
    user_id: uuid.UUID
    prize: FulfillmentPrize
    ticket_number: int
    status: FulfillmentStatus
    address: Address | None
    carrier: str | None
    tracking_number: str | None
    code: str | None
    notified_at: datetime
    claim_by: datetime | None
    reminded_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    forfeited_at: datetime | None


class FulfillmentPage(BaseModel):
    """Prizes, newest first."""

    items: list[Fulfillment]
    next_cursor: str | None


class Shipment(BaseModel):
    """Carrier and tracking number of a shipped prize."""

    carrier: str = Field(min_length=2, max_length=100)
    tracking_number: str = Field(min_length=4, max_length=100)


class FulfillmentUpdate(BaseModel):
    """An admin's move of a prize: delivered (after shipped), or forfeited (then redrawn)."""

    status: Literal["delivered", "forfeited"]


class Adjustment(BaseModel):
    """Points to add (positive) or remove (negative), with the audited reason."""

    points: int
    reason: str = Field(min_length=3, max_length=500)


DrawingBody = Annotated[
    dict[str, Any],
    Body(
        description=(
            "name, description, ticket_cost_points, max_tickets_per_user, sales_open_at, "
            "sales_close_at, drawing_at (RFC 3339), prizes [{rank, name, value, kind: "
            "physical|digital, quantity, codes?}], eligibility {min_age?, regions?}; PATCH "
            "also takes `status` (draft → scheduled → open → closed → completed; cancelled "
            "before completed)."
        ),
        examples=[
            {
                "name": "Spring sweepstakes",
                "ticket_cost_points": 100,
                "max_tickets_per_user": 50,
                "sales_open_at": "2026-03-01T00:00:00Z",
                "sales_close_at": "2026-03-15T20:55:00Z",
                "drawing_at": "2026-03-15T21:00:00Z",
                "prizes": [
                    {"rank": 1, "name": "Fitness watch", "value": 250, "kind": "physical"},
                    {"rank": 2, "name": "Gift card", "value": 50, "kind": "digital", "quantity": 3},
                ],
                "eligibility": {"min_age": 18, "regions": ["US", "CA"]},
            }
        ],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,255}$",
        description="the same key buys once; a retry gets the first answer",
    ),
]

# --- wallet --------------------------------------------------------------------------


@router.get("/v1/wallet", response_model=Wallet, summary="My points balance")
async def get_wallet(client: ClientDep, user: UserDep) -> Response:
    """Return my balance and the points expiring soon."""
    return relay(await client.request("GET", "/wallet", user))


@router.get("/v1/wallet/transactions", response_model=TransactionPage, summary="My points ledger")
async def list_transactions(
    client: ClientDep, user: UserDep, limit: Limit = 20, cursor: Cursor = None
) -> Response:
    """Earn, spend, refund, adjust, expire and revoke entries, newest first."""
    params = {"limit": limit, "cursor": cursor}
    return relay(await client.request("GET", "/wallet/transactions", user, params=params))


# --- drawings ------------------------------------------------------------------------


@router.get("/v1/drawings", response_model=DrawingPage, summary="Drawings")
async def list_drawings(
    client: ClientDep,
    user: OptionalUserDep,
    status: DrawingStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Drawings with prizes and cost, soonest closing first; signed in: my tickets and odds."""
    params = {"status": status, "limit": limit, "cursor": cursor}
    return relay(await client.request("GET", "/drawings", user, params=params))


@router.get("/v1/drawings/{drawing_id}", response_model=Drawing, summary="A drawing")
async def get_drawing(drawing_id: uuid.UUID, client: ClientDep, user: OptionalUserDep) -> Response:
    """Prizes, cost, closing time, commitment; signed in: my tickets and odds."""
    return relay(await client.request("GET", f"/drawings/{drawing_id}", user))


@router.post(
    "/v1/drawings/{drawing_id}/tickets",
    status_code=201,
    response_model=Purchase,
    summary="Buy tickets with points",
)
async def buy_tickets(
    drawing_id: uuid.UUID,
    body: TicketPurchase,
    client: ClientDep,
    user: UserDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Buy `quantity` tickets; tickets are final.

    409 `INSUFFICIENT_POINTS`, `DRAWING_NOT_OPEN`, `TICKET_LIMIT`; 403 `NOT_ELIGIBLE`
    with `reason` `BIRTHDATE_REQUIRED`, `UNDER_MIN_AGE`, `REGION_REQUIRED`,
    `REGION_NOT_ALLOWED` or `SPONSOR_OF_DRAWING`.
    """
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    got = await client.request(
        "POST",
        f"/drawings/{drawing_id}/tickets",
        user,
        json=body.model_dump(mode="json", exclude_none=True),
        headers=headers,
    )
    answer = relay(got)
    if "idempotent-replayed" in got.headers:
        answer.headers["Idempotent-Replayed"] = got.headers["idempotent-replayed"]
    return answer


@router.get("/v1/tickets", response_model=MyTicketList, summary="My tickets")
async def my_tickets(client: ClientDep, user: UserDep) -> Response:
    """My tickets across drawings, with their numbers."""
    return relay(await client.request("GET", "/tickets", user))


@router.get(
    "/v1/drawings/{drawing_id}/results", response_model=Results, summary="A drawing's winners"
)
async def get_results(drawing_id: uuid.UUID, client: ClientDep, user: OptionalUserDep) -> Response:
    """Winners (display names), prizes and ticket numbers; 409 before completion."""
    return relay(await client.request("GET", f"/drawings/{drawing_id}/results", user))


@router.get(
    "/v1/drawings/{drawing_id}/proof", response_model=Proof, summary="Proof of a fair drawing"
)
async def get_proof(drawing_id: uuid.UUID, client: ClientDep, user: OptionalUserDep) -> Response:
    """Commitment, ticket list and digest (from close), seed and picks (once completed)."""
    return relay(await client.request("GET", f"/drawings/{drawing_id}/proof", user))


# --- fulfilment ----------------------------------------------------------------------


@router.get("/v1/fulfillments", response_model=FulfillmentPage, summary="My prizes")
async def my_fulfillments(
    client: ClientDep,
    user: UserDep,
    status: FulfillmentStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """The prizes I won and where they are."""
    params = {"status": status, "limit": limit, "cursor": cursor}
    return relay(await client.request("GET", "/fulfillments", user, params=params))


@router.put(
    "/v1/fulfillments/{fulfillment_id}/address",
    response_model=Fulfillment,
    summary="Give the shipping address of a prize",
)
async def put_address(
    fulfillment_id: uuid.UUID, body: Address, client: ClientDep, user: UserDep
) -> Response:
    """Allowed until the prize ships (409 after); someone else's prize is 404."""
    address = body.model_dump(exclude_none=True)
    return relay(
        await client.request("PUT", f"/fulfillments/{fulfillment_id}/address", user, json=address)
    )


# --- administration ------------------------------------------------------------------


@router.get("/v1/admin/drawings", response_model=DrawingPage, summary="Drawings, drafts included")
async def admin_list_drawings(
    client: ClientDep,
    user: UserDep,
    status: DrawingStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Admins see every drawing; sponsors their own drafts as well as the public ones."""
    params = {"status": status, "limit": limit, "cursor": cursor}
    return relay(await client.request("GET", "/drawings", user, params=params))


@router.post(
    "/v1/admin/drawings", status_code=201, response_model=Drawing, summary="Create a drawing"
)
async def create_drawing(body: DrawingBody, client: ClientDep, user: UserDep) -> Response:
    """Admins, and sponsors (owners of a competition) for their own; status `draft`."""
    return relay(await client.request("POST", "/drawings", user, json=body))


@router.patch(
    "/v1/admin/drawings/{drawing_id}", response_model=Drawing, summary="Edit or move a drawing"
)
async def update_drawing(
    drawing_id: uuid.UUID, body: DrawingBody, client: ClientDep, user: UserDep
) -> Response:
    """Edit while draft; `status` moves it (409 `INVALID_TRANSITION`); cancelling refunds."""
    return relay(await client.request("PATCH", f"/drawings/{drawing_id}", user, json=body))


@router.post(
    "/v1/admin/drawings/{drawing_id}/execute",
    response_model=Results,
    summary="Run a closed drawing now",
)
async def execute_drawing(drawing_id: uuid.UUID, client: ClientDep, admin: AdminDep) -> Response:
    """Draw the winners now; idempotent (a completed drawing answers its results)."""
    return relay(await client.request("POST", f"/drawings/{drawing_id}/execute", admin))


@router.get("/v1/admin/fulfillments", response_model=FulfillmentPage, summary="Every prize")
async def admin_fulfillments(
    client: ClientDep,
    admin: AdminDep,
    status: FulfillmentStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every winner's prize, addresses included, newest first."""
    params = {"mine": "false", "status": status, "limit": limit, "cursor": cursor}
    return relay(await client.request("GET", "/fulfillments", admin, params=params))


@router.patch(
    "/v1/admin/fulfillments/{fulfillment_id}",
    response_model=Fulfillment,
    summary="Mark delivered or forfeit a prize",
)
async def advance_fulfillment(
    fulfillment_id: uuid.UUID, body: FulfillmentUpdate, client: ClientDep, admin: AdminDep
) -> Response:
    """`delivered` after shipping; `forfeited` draws an alternate from the same seed."""
    return relay(
        await client.request(
            "PATCH", f"/fulfillments/{fulfillment_id}", admin, json=body.model_dump()
        )
    )


@router.post(
    "/v1/admin/fulfillments/{fulfillment_id}/ship",
    response_model=Fulfillment,
    summary="Mark a prize shipped",
)
async def ship_fulfillment(
    fulfillment_id: uuid.UUID, body: Shipment, client: ClientDep, admin: AdminDep
) -> Response:
    """Carrier and tracking number; the winner is notified."""
    return relay(
        await client.request(
            "POST", f"/fulfillments/{fulfillment_id}/ship", admin, json=body.model_dump()
        )
    )


@router.post("/v1/admin/wallets/{user_id}/adjust", response_model=Wallet, summary="Adjust a wallet")
async def adjust_wallet(
    user_id: uuid.UUID, body: Adjustment, client: ClientDep, admin: AdminDep
) -> Response:
    """Add or remove points with a reason (audited); never below zero."""
    return relay(
        await client.request("POST", f"/wallets/{user_id}/adjust", admin, json=body.model_dump())
    )

"""Internal API of the rewards service, called only by the gateway (SPEC §6, §10.4).

The gateway authenticates the caller and passes who it is in
`X-Podium-User-Id` and `X-Podium-User-Role`; object-level checks (my wallet,
my prizes, sponsors' own drawings) are made here next to the data.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from podium_runtime.cursors import CursorCodec
from podium_runtime.deps import SessionDep
from podium_runtime.problems import Problem

from podium_rewards import repository
from podium_rewards.schemas import (
    Address,
    Adjustment,
    Drawing,
    DrawingCreate,
    DrawingPage,
    DrawingUpdate,
    Fulfillment,
    FulfillmentPage,
    FulfillmentUpdate,
    MyTicketList,
    Proof,
    Purchase,
    Results,
    Shipment,
    TicketPurchase,
    TransactionPage,
    Wallet,
)
from podium_rewards.service import Caller, Rewards

router = APIRouter(prefix="/internal/v1", tags=["internal"])

#: Ledger pages continue after an entry id; drawings and prizes after (instant, id).
ENTRY_CURSOR = CursorCodec(int)
PAGE_CURSOR = CursorCodec(datetime, uuid.UUID)
DrawingStatus = Literal["draft", "scheduled", "open", "closed", "completed", "cancelled"]
FulfillmentStatus = Literal[
    "awaiting_address", "address_confirmed", "shipped", "delivered", "forfeited"
]


async def rewards_of(request: Request) -> Rewards:
    """Return the service's use cases."""
    return request.app.state.rewards  # type: ignore[no-any-return]


async def optional_caller(
    caller_id: Annotated[uuid.UUID | None, Header(alias="X-Podium-User-Id")] = None,
    caller_role: Annotated[str, Header(alias="X-Podium-User-Role")] = "user",
) -> Caller | None:
    """Return the caller the gateway vouches for, or None for an anonymous visitor."""
    return Caller(caller_id, caller_role) if caller_id is not None else None


async def required_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    """Return the caller; anonymous requests are 401."""
    if caller is None:
        raise Problem(401, "UNAUTHENTICATED", "this operation needs a signed-in user")
    return caller


async def admin_caller(caller: Annotated[Caller, Depends(required_caller)]) -> Caller:
    """Return the caller if an administrator; 403 otherwise."""
    if not caller.is_admin:
        raise Problem(403, "FORBIDDEN", "This route is for administrators.")
    return caller


RewardsDep = Annotated[Rewards, Depends(rewards_of)]
CallerDep = Annotated[Caller, Depends(required_caller)]
MaybeCallerDep = Annotated[Caller | None, Depends(optional_caller)]
AdminDep = Annotated[Caller, Depends(admin_caller)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]


# --- wallet --------------------------------------------------------------------------


@router.get("/wallet", response_model=Wallet)
async def get_wallet(session: SessionDep, rewards: RewardsDep, caller: CallerDep) -> Any:
    """Return the caller's balance and the points expiring soon."""
    return await rewards.wallet(session, caller.user_id)


@router.get("/wallet/transactions", response_model=TransactionPage)
async def list_transactions(
    session: SessionDep,
    rewards: RewardsDep,
    caller: CallerDep,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Any:
    """Return the caller's ledger, newest first."""
    after = ENTRY_CURSOR.decode_optional(cursor)
    before = after[0] if after else None
    rows = await repository.entries(session, caller.user_id, limit + 1, before)
    page = rows[:limit]
    return {
        "items": [{**r._mapping, "id": r.entry_id} for r in page],
        "next_cursor": ENTRY_CURSOR.encode(page[-1].entry_id) if len(rows) > limit else None,
    }


@router.post("/wallets/{user_id}/adjust", response_model=Wallet)
async def adjust_wallet(
    user_id: uuid.UUID, body: Adjustment, session: SessionDep, rewards: RewardsDep, admin: AdminDep
) -> Any:
    """Admin: add or remove points with a reason (audited)."""
    return await rewards.adjust(session, admin, user_id, body.points, body.reason)


# --- drawings ------------------------------------------------------------------------


@router.get("/drawings", response_model=DrawingPage)
async def list_drawings(
    session: SessionDep,
    rewards: RewardsDep,
    caller: MaybeCallerDep,
    status: DrawingStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Any:
    """Return drawings, soonest closing first; drafts only to their sponsor and admins."""
    after = PAGE_CURSOR.decode_optional(cursor)
    items, last = await rewards.drawings(
        session,
        caller,
        status,
        limit,
        after,
    )
    return {"items": items, "next_cursor": PAGE_CURSOR.encode(*last) if last else None}


@router.post("/drawings", status_code=201, response_model=Drawing)
async def create_drawing(
    body: DrawingCreate, session: SessionDep, rewards: RewardsDep, caller: CallerDep
) -> Any:
    """Create a draft drawing (admins, and sponsors)."""
    return await rewards.create_drawing(session, caller, body)


@router.get("/drawings/{drawing_id}", response_model=Drawing)
async def get_drawing(
    drawing_id: uuid.UUID, session: SessionDep, rewards: RewardsDep, caller: MaybeCallerDep
) -> Any:
    """Return a drawing with prizes, my tickets and odds."""
    return await rewards.drawing(session, drawing_id, caller)


@router.patch("/drawings/{drawing_id}", response_model=Drawing)
async def update_drawing(
    drawing_id: uuid.UUID,
    body: DrawingUpdate,
    session: SessionDep,
    rewards: RewardsDep,
    caller: CallerDep,
) -> Any:
    """Edit a draft or move the drawing along its states (409 `INVALID_TRANSITION`)."""
    return await rewards.update_drawing(session, caller, drawing_id, body)


@router.post("/drawings/{drawing_id}/execute", response_model=Results)
async def execute_drawing(
    drawing_id: uuid.UUID, session: SessionDep, rewards: RewardsDep, admin: AdminDep
) -> Any:
    """Admin: draw the winners now (idempotent: a completed drawing returns its results)."""
    await rewards.execute(session, admin, drawing_id)
    return await rewards.results(session, drawing_id)


@router.post("/drawings/{drawing_id}/tickets", status_code=201, response_model=Purchase)
async def buy_tickets(
    drawing_id: uuid.UUID,
    body: TicketPurchase,
    session: SessionDep,
    rewards: RewardsDep,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> Any:
    """Buy tickets with points; a retry with the same Idempotency-Key buys nothing more."""
    answer, replayed = await rewards.buy_tickets(
        session,
        caller.user_id,
        drawing_id,
        body.quantity,
        idempotency_key,
        body.birthdate,
        body.region,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(Purchase.model_validate(answer).model_dump(mode="json"), 201, headers)


@router.get("/drawings/{drawing_id}/results", response_model=Results)
async def get_results(drawing_id: uuid.UUID, session: SessionDep, rewards: RewardsDep) -> Any:
    """Return the winners of a completed drawing."""
    return await rewards.results(session, drawing_id)


@router.get("/drawings/{drawing_id}/proof", response_model=Proof)
async def get_proof(drawing_id: uuid.UUID, session: SessionDep, rewards: RewardsDep) -> Any:
    """Return the commitment, ticket list, seed (once completed) and picks."""
    return await rewards.proof(session, drawing_id)


@router.get("/tickets", response_model=MyTicketList)
async def my_tickets(session: SessionDep, rewards: RewardsDep, caller: CallerDep) -> Any:
    """Return the caller's tickets across drawings."""
    return {"items": await rewards.my_tickets(session, caller.user_id)}


# --- fulfilment ----------------------------------------------------------------------


@router.get("/fulfillments", response_model=FulfillmentPage)
async def list_fulfillments(
    session: SessionDep,
    rewards: RewardsDep,
    caller: CallerDep,
    status: FulfillmentStatus | None = None,
    mine: bool = True,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Any:
    """Return the caller's prizes; admins may list everybody's with `mine=false`."""
    if not mine and not caller.is_admin:
        raise Problem(403, "FORBIDDEN", "Only administrators list every fulfilment.")
    items, last = await rewards.fulfillments(
        session,
        user_id=caller.user_id if mine else None,
        status=status,
        limit=limit,
        after=PAGE_CURSOR.decode_optional(cursor),
    )
    return {"items": items, "next_cursor": PAGE_CURSOR.encode(*last) if last else None}


@router.put("/fulfillments/{fulfillment_id}/address", response_model=Fulfillment)
async def put_address(
    fulfillment_id: uuid.UUID,
    body: Address,
    session: SessionDep,
    rewards: RewardsDep,
    caller: CallerDep,
) -> Any:
    """The winner gives (or corrects, before shipping) the shipping address."""
    return await rewards.set_address(
        session, caller.user_id, fulfillment_id, body.model_dump(exclude_none=True)
    )


@router.post("/fulfillments/{fulfillment_id}/ship", response_model=Fulfillment)
async def ship(
    fulfillment_id: uuid.UUID,
    body: Shipment,
    session: SessionDep,
    rewards: RewardsDep,
    admin: AdminDep,
) -> Any:
    """Admin: the prize left with this carrier and tracking number."""
    return await rewards.ship(session, admin, fulfillment_id, body.carrier, body.tracking_number)


@router.patch("/fulfillments/{fulfillment_id}", response_model=Fulfillment)
async def advance(
    fulfillment_id: uuid.UUID,
    body: FulfillmentUpdate,
    session: SessionDep,
    rewards: RewardsDep,
    admin: AdminDep,
) -> Any:
    """Admin: mark delivered, or forfeit (an alternate winner is drawn)."""
    return await rewards.advance(session, admin, fulfillment_id, body.status)

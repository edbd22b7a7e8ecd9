"""Prize messages from the rewards service reach the winner in-app and by e-mail, once each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier_harness import Running
from podium_contracts.events import FulfillmentData, FulfillmentUpdated
from podium_runtime.outbox import new_event
from podium_runtime.testing import eventually


def prize_event(user_id: uuid.UUID, change: str, **fields: Any) -> FulfillmentUpdated:
    event = new_event(
        FulfillmentUpdated,
        "rewards",
        FulfillmentData(
            fulfillment_id=uuid.uuid4(),
            user_id=user_id,
            drawing_id=uuid.uuid4(),
            drawing_name="Spring sweepstakes",
            prize_rank=1,
            prize_name="Fitness watch",
            change=change,  # type: ignore[arg-type]
            **fields,
        ),
    )
    assert isinstance(event, FulfillmentUpdated)
    return event


async def test_winner_hears_about_the_prize_in_app_and_by_email(notifier: Running) -> None:
    user = await notifier.register()
    claim_by = datetime.now(UTC) + timedelta(days=14)
    won = prize_event(
        user.user_id, "won", kind="physical", status="awaiting_address", claim_by=claim_by
    )
    shipped = prize_event(
        user.user_id,
        "shipped",
        kind="physical",
        status="shipped",
        carrier="USPS",
        tracking_number="9400123456789",
    )
    code = prize_event(
        user.user_id, "delivered", kind="digital", status="delivered", code="GIFT-1234"
    )
    await notifier.publish(won, shipped, code, won)  # the repeat adds nothing

    async def three() -> list[dict[str, Any]] | None:
        items = (await notifier.inbox(user.user_id))["items"]
        return items if len(items) >= 3 else None

    items = await eventually(three, timeout=20, message="prize notifications")
    assert {i["type"] for i in items} == {"rewards.prize"}
    bodies = " | ".join(i["body"] for i in items)
    assert "Give your shipping address by" in bodies
    assert "USPS, tracking number 9400123456789" in bodies
    assert "GIFT-1234" in bodies
    mails = await notifier.wait_mails(user.email, 3)
    subjects = sorted(m["subject"] for m in mails)
    assert subjects == sorted(
        ["You won Fitness watch!", "Your prize is on its way", "Your prize: Fitness watch"]
    )
    assert len((await notifier.inbox(user.user_id))["items"]) == 3


async def test_reminder_and_forfeit_are_told_in_plain_words(notifier: Running) -> None:
    user = await notifier.register()
    claim_by = datetime(2031, 5, 14, 12, tzinfo=UTC)
    reminder = prize_event(
        user.user_id, "reminder", kind="physical", status="awaiting_address", claim_by=claim_by
    )
    forfeited = prize_event(user.user_id, "forfeited", kind="physical", status="forfeited")
    await notifier.publish(reminder, forfeited)

    async def two() -> list[dict[str, Any]] | None:
        items = (await notifier.inbox(user.user_id))["items"]
        return items if len(items) >= 2 else None

    items = {i["title"]: i for i in await eventually(two, timeout=20, message="prize notices")}
    assert "You have until 14 May 2031" in items["Claim your prize"]["body"]
    assert "went to another participant" in items["Your prize was forfeited"]["body"]
    assert items["Claim your prize"]["data"]["change"] == "reminder"

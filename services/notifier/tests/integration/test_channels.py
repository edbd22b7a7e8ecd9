"""Events become notifications on the right channels, once each (SPEC §7.4)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis
from notifier_harness import Running, new_user
from podium_contracts.codes import JoinRejection
from podium_contracts.events import (
    CompetitionCreated,
    CompetitionData,
    EnrollmentAccepted,
    EnrollmentData,
    EnrollmentRejected,
    ScoredData,
    SubmissionScored,
    UserEmailVerificationRequested,
    UserPasswordResetRequested,
    UserRegistered,
    UserTokenData,
)
from podium_notifier.live import live_channel
from podium_notifier.models import emails, held_emails, notifications
from podium_notifier.repositories import emails as emails_repo
from podium_notifier.repositories import projections
from podium_notifier.service import Message, record_user
from podium_runtime.outbox import new_event
from podium_runtime.testing import await_lock_waiter, eventually
from sqlalchemy import func, select


def scored(user_id: uuid.UUID, competition_id: uuid.UUID | None = None) -> SubmissionScored:
    now = datetime.now(UTC)
    event = new_event(
        SubmissionScored,
        "scoring",
        ScoredData(
            submission_id=uuid.uuid4(),
            competition_id=competition_id or uuid.uuid4(),
            user_id=user_id,
            metric="auc_roc",
            higher_is_better=True,
            public_score=0.8125,
            private_score=0.8,
            submitted_at=now,
            scored_at=now,
        ),
    )
    assert isinstance(event, SubmissionScored)
    return event


async def inbox_items(notifier: Running, user_id: uuid.UUID, count: int) -> list[dict[str, Any]]:
    async def arrived() -> list[dict[str, Any]] | None:
        items = (await notifier.inbox(user_id))["items"]
        return items if len(items) >= count else None

    return await eventually(arrived, timeout=20, message=f"{count} notification(s)")


async def test_verification_email_arrives_with_a_working_link(notifier: Running) -> None:
    user_id, address = uuid.uuid4(), f"new{uuid.uuid4().hex[:8]}@example.org"
    token = "tok_" + uuid.uuid4().hex
    expires = datetime.now(UTC) + timedelta(hours=24)
    await notifier.publish(
        new_event(
            UserEmailVerificationRequested,
            "identity",
            UserTokenData(
                user_id=user_id,
                email=address,
                display_name="Grace <b>",
                token=token,
                expires_at=expires,
            ),
        )
    )
    [mail] = await notifier.wait_mails(address)
    assert mail["subject"] == "Confirm your e-mail address"
    assert f"http://podium.test/verify-email?token={token}" in mail["links"]
    assert token in mail["text"]
    assert mail["html"] is not None
    assert f'href="http://podium.test/verify-email?token={token}"' in mail["html"]
    assert "Grace &lt;b&gt;" in mail["html"]  # user data is escaped in HTML mails
    # Account mails are e-mail only: nothing lands in the in-app inbox.
    assert (await notifier.inbox(user_id))["items"] == []


async def test_password_reset_email_is_sent_even_when_the_user_opted_out_of_email(
    notifier: Running,
) -> None:
    user = await notifier.register()
    everything_off = {
        kind: {"email": False}
        for kind in (await notifier.http.get(f"/internal/users/{user.user_id}/preferences")).json()[
            "preferences"
        ]
    }
    put = await notifier.http.put(
        f"/internal/users/{user.user_id}/preferences", json={"preferences": everything_off}
    )
    assert put.status_code == 200
    token = "reset_" + uuid.uuid4().hex
    await notifier.publish(
        new_event(
            UserPasswordResetRequested,
            "identity",
            UserTokenData(
                user_id=user.user_id,
                email=user.email,
                display_name=user.display_name,
                token=token,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
    )
    [mail] = await notifier.wait_mails(user.email)
    assert f"http://podium.test/reset-password?token={token}" in mail["links"]


async def test_scored_submission_reaches_inbox_email_and_live_channel(notifier: Running) -> None:
    user = await notifier.register()
    client = redis.from_url(notifier.settings.redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(live_channel(user.user_id))
    try:
        event = scored(user.user_id)
        await notifier.publish(event)
        [item] = await inbox_items(notifier, user.user_id, 1)
        assert item["type"] == "submission.scored"
        assert "0.8125" in item["body"]
        assert item["data"]["submission_id"] == str(event.data.submission_id)
        assert item["read_at"] is None
        [mail] = await notifier.wait_mails(user.email)
        assert mail["subject"] == "Your submission was scored"
        assert f"http://podium.test/submissions/{event.data.submission_id}" in mail["links"]

        received: list[dict[str, Any]] = []

        async def live_messages() -> list[dict[str, Any]] | None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                received.append(json.loads(message["data"]))
            return (
                received
                if {m["event"] for m in received}
                >= {
                    "notification",
                    "submission.scored",
                }
                else None
            )

        await eventually(live_messages, message="live messages")
        live = next(m for m in received if m["event"] == "notification")
        assert live["id"] == item["seq"]
        assert live["data"]["id"] == item["id"]
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_email_opt_out_keeps_in_app_and_sends_no_mail(notifier: Running) -> None:
    user = await notifier.register()
    put = await notifier.http.put(
        f"/internal/users/{user.user_id}/preferences",
        json={"preferences": {"submission.scored": {"email": False}}},
    )
    assert put.status_code == 200
    assert put.json()["preferences"]["submission.scored"] == {"in_app": True, "email": False}
    assert put.json()["preferences"]["enrollment.accepted"] == {"in_app": True, "email": True}
    event = scored(user.user_id)
    await notifier.publish(event)
    await inbox_items(notifier, user.user_id, 1)
    # The in-app row and any mail are written in one transaction: no mail was queued.
    async with notifier.service.runtime.db.session() as session:
        queued = await session.scalar(
            select(func.count()).select_from(emails).where(emails.c.user_id == user.user_id)
        )
    assert queued == 0
    assert notifier.mails_to(user.email) == []


async def test_redelivered_event_creates_no_second_notification_or_email(
    notifier: Running,
) -> None:
    user = await notifier.register()
    competition_id = uuid.uuid4()
    event = scored(user.user_id, competition_id)
    await notifier.publish(event)
    await notifier.publish(event)  # the broker delivers it again (at-least-once)
    # Same key, same partition: once this one is handled, both copies were consumed.
    sentinel = scored(user.user_id, competition_id)
    await notifier.publish(sentinel)
    items = await inbox_items(notifier, user.user_id, 2)
    await notifier.wait_mails(user.email, 2)
    assert sorted(i["data"]["submission_id"] for i in items) == sorted(
        [str(event.data.submission_id), str(sentinel.data.submission_id)]
    )
    assert len(notifier.mails_to(user.email)) == 2


async def test_the_unique_key_holds_even_past_the_inbox(notifier: Running) -> None:
    """A second delivery that slipped past the inbox (e.g. a replayed topic) adds nothing."""
    user = await notifier.register()
    service = notifier.service
    message = Message("submission.scored", "Scored", "Your submission scored 1.")
    key = str(uuid.uuid4())
    for _ in range(2):
        async with service.runtime.db.session() as session:
            await service.notifier.notify(session, user.user_id, key, message)
    async with service.runtime.db.session() as session:
        in_app = await session.scalar(
            select(func.count()).select_from(notifications).where(notifications.c.dedupe_key == key)
        )
        mails = await session.scalar(
            select(func.count()).select_from(emails).where(emails.c.dedupe_key == key)
        )
    assert (in_app, mails) == (1, 1)


async def held_mails(notifier: Running, user_id: uuid.UUID) -> int:
    """Count the mails held for a user whose address the notifier does not know."""
    async with notifier.service.runtime.db.session() as session:
        held = await session.scalar(
            select(func.count()).select_from(held_emails).where(held_emails.c.user_id == user_id)
        )
    return int(held or 0)


async def test_a_mail_waits_for_an_address_that_comes_after_the_event(notifier: Running) -> None:
    """The user's record and the event that notifies them come on different topics."""
    user = new_user()
    event = scored(user.user_id)
    await notifier.publish(event)
    await inbox_items(notifier, user.user_id, 1)
    assert await held_mails(notifier, user.user_id) == 1  # same transaction as the in-app row
    await notifier.publish(new_event(UserRegistered, "identity", user))
    [mail] = await notifier.wait_mails(user.email)
    assert mail["subject"] == "Your submission was scored"
    assert mail["text"].startswith(f"Hello {user.display_name},")
    assert f"http://podium.test/submissions/{event.data.submission_id}" in mail["links"]
    assert await held_mails(notifier, user.user_id) == 0
    # The event again, then a sentinel of the same partition: one new mail, the sentinel's.
    await notifier.publish(event)
    await notifier.publish(scored(user.user_id, event.data.competition_id))
    await notifier.wait_mails(user.email, 2)
    assert len(notifier.mails_to(user.email)) == 2


async def test_an_address_that_arrives_while_a_mail_is_held_releases_it(
    notifier: Running,
) -> None:
    """Held on one replica, the user's record committing on another: the mail still goes."""
    service = notifier.service
    database = service.runtime.db
    user, key = new_user(), str(uuid.uuid4())
    message = Message("submission.scored", "Scored", "Your submission scored 1.")

    async def arrive() -> None:
        async with database.session() as session:
            await record_user(session, service.notifier, user)

    async with database.session() as holding:
        await service.notifier.notify(holding, user.user_id, key, message)
        arriving = asyncio.create_task(arrive())
        await await_lock_waiter(database, str(user.user_id), emails_repo.RECIPIENT_LOCK_SEED)
        assert not arriving.done()
    await arriving  # the hold committed first; the record's release saw it
    async with database.session() as session:
        queued = await session.scalar(
            select(func.count()).select_from(emails).where(emails.c.dedupe_key == key)
        )
    assert (queued, await held_mails(notifier, user.user_id)) == (1, 0)
    [mail] = await notifier.wait_mails(user.email)
    assert (mail["subject"], mail["text"].splitlines()[0]) == ("Scored", "Hello Ada Tester,")


async def test_enrollment_outcomes_notify_with_the_reason(notifier: Running) -> None:
    user = await notifier.register()
    competition_id = uuid.uuid4()
    await notifier.publish(
        new_event(
            EnrollmentRejected,
            "competitions",
            EnrollmentData(
                competition_id=competition_id, user_id=user.user_id, reason=JoinRejection.FULL
            ),
        ),
        new_event(
            EnrollmentAccepted,
            "competitions",
            EnrollmentData(competition_id=uuid.uuid4(), user_id=user.user_id),
        ),
    )
    items = await inbox_items(notifier, user.user_id, 2)
    by_type = {i["type"]: i for i in items}
    assert "the competition is full" in by_type["enrollment.rejected"]["body"]
    assert by_type["enrollment.rejected"]["data"]["reason"] == "FULL"
    assert "enrollment.accepted" in by_type


async def test_inbox_pagination_unread_filter_and_mark_read(notifier: Running) -> None:
    user = await notifier.register()
    competition_id = uuid.uuid4()
    await notifier.publish(*[scored(user.user_id, competition_id) for _ in range(5)])
    await inbox_items(notifier, user.user_id, 5)
    first = await notifier.inbox(user.user_id, limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = await notifier.inbox(user.user_id, limit=2, cursor=first["next_cursor"])
    third = await notifier.inbox(user.user_id, limit=2, cursor=second["next_cursor"])
    seqs = [i["seq"] for page in (first, second, third) for i in page["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 5
    assert third["next_cursor"] is None
    target = first["items"][0]["id"]
    read = await notifier.http.post(f"/internal/users/{user.user_id}/notifications/{target}/read")
    assert read.status_code == 200 and read.json()["read_at"]
    unread = await notifier.inbox(user.user_id, unread="true")
    assert target not in {i["id"] for i in unread["items"]}
    assert unread["unread_count"] == 4
    # Someone else's notification is not found, and bad cursors are problems, not 500s.
    stranger = await notifier.http.post(
        f"/internal/users/{uuid.uuid4()}/notifications/{target}/read"
    )
    assert stranger.status_code == 404 and stranger.json()["code"] == "NOTIFICATION_NOT_FOUND"
    bad = await notifier.http.get(
        f"/internal/users/{user.user_id}/notifications", params={"cursor": "%%%"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_CURSOR"


async def test_unknown_preference_type_is_refused(notifier: Running) -> None:
    response = await notifier.http.put(
        f"/internal/users/{uuid.uuid4()}/preferences",
        json={"preferences": {"no.such.type": {"email": False}}},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "UNKNOWN_NOTIFICATION_TYPE"


async def test_projection_keeps_the_latest_profile(notifier: Running) -> None:
    user = await notifier.register("Europe/Paris")
    async with notifier.service.runtime.db.session() as session:
        row = await projections.get_user(session, user.user_id)
    assert row is not None and row.timezone == "Europe/Paris"


async def test_a_rescore_does_not_notify_a_scored_submission_again(notifier: Running) -> None:
    """Regression: a rescore re-sent every "scored" notification and e-mail."""
    user = await notifier.register()
    competition_id = uuid.uuid4()
    first = scored(user.user_id, competition_id)
    rescored = new_event(
        SubmissionScored,
        "scoring",
        first.data.model_copy(update={"public_score": 0.9}),
    )
    await notifier.publish(first)
    await notifier.publish(rescored)
    sentinel = scored(user.user_id, competition_id)  # same partition: handled after both
    await notifier.publish(sentinel)
    items = await inbox_items(notifier, user.user_id, 2)
    await notifier.wait_mails(user.email, 2)
    assert sorted(i["data"]["submission_id"] for i in items) == sorted(
        [str(first.data.submission_id), str(sentinel.data.submission_id)]
    )
    assert len(notifier.mails_to(user.email)) == 2


async def test_a_refused_join_does_not_reveal_a_private_competitions_title(
    notifier: Running,
) -> None:
    """Regression: the rejection told a stranger with a wrong invite code the secret title."""
    user = await notifier.register()
    competition_id = uuid.uuid4()
    now = datetime.now(UTC)
    await notifier.publish(
        new_event(
            CompetitionCreated,
            "competitions",
            CompetitionData(
                competition_id=competition_id,
                owner_id=uuid.uuid4(),
                kind="prediction",
                title="Project Nightingale",
                visibility="private",
                status="active",
                starts_at=now,
                ends_at=now + timedelta(days=30),
                timezone="UTC",
                metric="auc_roc",
            ),
        ),
        new_event(
            EnrollmentRejected,
            "competitions",
            EnrollmentData(
                competition_id=competition_id,
                user_id=user.user_id,
                reason=JoinRejection.INVALID_INVITE_CODE,
            ),
        ),
    )
    [item] = await inbox_items(notifier, user.user_id, 1)
    assert item["type"] == "enrollment.rejected"
    assert "Nightingale" not in item["body"] and "Nightingale" not in item["title"]
    await notifier.wait_mails(user.email, 1)
    assert all("Nightingale" not in str(mail) for mail in notifier.mails_to(user.email))

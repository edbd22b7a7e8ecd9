"""SMTP outages, bounced mails, broken templates and unknown versions block nothing (SPEC §7.4)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from jinja2 import DictLoader, Environment
from notifier_harness import BOUNCING_DOMAIN, Running
from podium_contracts.events import RankChanged, RankChangedData
from podium_notifier.mail import EmailRenderer
from podium_notifier.models import emails
from podium_notifier.service import Message, Notifier
from podium_runtime.outbox import new_event
from podium_runtime.testing import eventually
from sqlalchemy import select
from test_channels import inbox_items, scored  # type: ignore[import-not-found]


async def email_rows(notifier: Running, address: str) -> list[dict[str, object]]:
    async with notifier.service.runtime.db.session() as session:
        rows = await session.execute(select(emails).where(emails.c.to_address == address))
        return [dict(r._mapping) for r in rows]


async def test_mail_queued_while_smtp_is_down_is_delivered_when_it_returns(
    notifier: Running,
) -> None:
    users = [await notifier.register() for _ in range(3)]
    notifier.sink.stop()
    try:
        await notifier.publish(*[scored(u.user_id) for u in users])
        # The consumer is not blocked: every in-app notification is there during the outage.
        for user in users:
            await inbox_items(notifier, user.user_id, 1)

        async def retried() -> bool:
            rows = [r for u in users for r in await email_rows(notifier, u.email)]
            return len(rows) == 3 and all(
                r["status"] == "pending" and int(r["attempts"]) >= 2 and r["last_error"]
                for r in rows
            )

        await eventually(retried, timeout=20, message="mails retried while SMTP is down")
    finally:
        notifier.sink.start()  # the relay comes back on the same address
    for user in users:
        [mail] = await notifier.wait_mails(user.email)
        assert mail["subject"] == "Your submission was scored"

    # The sink has the mail before the sender commits its status: await the commit.
    async def all_sent() -> bool:
        rows = [r for u in users for r in await email_rows(notifier, u.email)]
        return len(rows) == 3 and {r["status"] for r in rows} == {"sent"}

    await eventually(all_sent, message="every queued mail marked sent")


async def test_refused_recipient_is_dead_lettered_without_blocking_others(
    notifier: Running,
) -> None:
    good = await notifier.register()
    bounced = f"nobody{uuid.uuid4().hex[:6]}{BOUNCING_DOMAIN}"
    service = notifier.service
    async with service.runtime.db.session() as session:
        for user_id, address in ((uuid.uuid4(), bounced), (good.user_id, good.email)):
            await service.notifier.queue_email(
                session,
                user_id,
                address,
                str(uuid.uuid4()),
                "submission.scored",
                "notification",
                {"display_name": "X", "title": "Hello", "body": "Body", "link": None},
            )
    await notifier.wait_mails(good.email)

    async def dead() -> list[dict[str, object]] | None:
        rows = await email_rows(notifier, bounced)
        return rows if rows and rows[0]["status"] == "dead" else None

    [row] = await eventually(dead, message="refused mail dead-lettered")
    assert row["attempts"] == 1  # a 550 is permanent: no pointless retries
    assert "550" in str(row["last_error"])


async def test_broken_template_keeps_the_in_app_notification_and_other_mail(
    notifier: Running,
) -> None:
    user = await notifier.register()
    broken = Environment(
        autoescape=True,
        loader=DictLoader(
            {
                "notification.subject.txt": "{{ title }",  # syntax error
                "notification.txt": "x",
                "notification.html": "x",
            }
        ),
    )
    service = notifier.service
    faulty = Notifier(
        notifier.settings,
        service.notifier.live,
        EmailRenderer(broken),
        service.sender.wake,
    )
    key = str(uuid.uuid4())
    async with service.runtime.db.session() as session:
        delivery = await faulty.notify(
            session, user.user_id, key, Message("submission.scored", "T", "B")
        )
    assert delivery.in_app is not None
    [row] = await email_rows(notifier, user.email)
    assert row["status"] == "dead" and "TemplateSyntaxError" in str(row["last_error"])
    # The next event for the same user goes through normally.
    await notifier.publish(scored(user.user_id))
    [mail] = await notifier.wait_mails(user.email)
    assert mail["subject"] == "Your submission was scored"


async def test_unknown_event_version_is_dead_lettered_and_the_queue_moves_on(
    notifier: Running,
) -> None:
    user = await notifier.register()
    competition_id = uuid.uuid4()
    future = scored(user.user_id, competition_id)
    body = json.loads(future.model_dump_json())
    body["version"] = 99
    body["data"]["shiny_new_field"] = True
    runtime = notifier.service.runtime
    topic = notifier.settings.kafka_topic_prefix + "podium.scores"
    await runtime.broker.publish(
        json.dumps(body).encode(), topic=topic, key=str(competition_id).encode()
    )
    after = scored(user.user_id, competition_id)
    await notifier.publish(after)
    [item] = await inbox_items(notifier, user.user_id, 1)
    assert item["data"]["submission_id"] == str(after.data.submission_id)


async def test_rank_changes_notify_top10_entries_and_drops_debounced(notifier: Running) -> None:
    user = await notifier.register()
    competition_id = uuid.uuid4()

    def moved(old: int | None, new: int | None, minute: int) -> RankChanged:
        event = new_event(
            RankChanged,
            "competitions",
            RankChangedData(
                competition_id=competition_id,
                user_id=user.user_id,
                old_rank=old,
                new_rank=new,
                score=0.9,
            ),
        )
        stamped = event.model_copy(
            update={"occurred_at": datetime(2026, 5, 1, 12, minute, tzinfo=UTC)}
        )
        assert isinstance(stamped, RankChanged)
        return stamped

    # Same key (competition), so they are handled in order.
    await notifier.publish(
        moved(None, 14, 0),  # first ranking outside the top 10: quiet
        moved(14, 12, 1),  # a rise outside the top 10: quiet
        moved(12, 7, 2),  # entered the top 10: notified
        moved(7, 9, 3),  # a drop, but within the debounce window: quiet
        moved(9, 3, 50),  # a rise inside the top 10: quiet
        moved(3, 11, 55),  # left the top 10, window passed: notified
    )
    sentinel = scored(user.user_id)
    await notifier.publish(sentinel)
    items = await inbox_items(notifier, user.user_id, 3)

    async def settled() -> list[dict[str, object]] | None:
        found = (await notifier.inbox(user.user_id))["items"]
        ranks = [i for i in found if i["type"] == "leaderboard.rank_changed"]
        return ranks if len(ranks) >= 2 else None

    ranks = await eventually(settled, message="two rank notices")
    assert [(r["data"]["old_rank"], r["data"]["new_rank"]) for r in reversed(ranks)] == [
        (12, 7),
        (3, 11),
    ]
    assert len(items) >= 3
    # Rank-change e-mails are off by default (noisy): only the scored mail went out.
    mails = await notifier.wait_mails(user.email)
    assert [m["subject"] for m in mails] == ["Your submission was scored"]

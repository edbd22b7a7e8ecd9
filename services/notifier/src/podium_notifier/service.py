"""Use cases of the notifier: turn facts into notifications per user and channel (SPEC §7.4).

Every function works inside the caller's unit of work (it flushes, never
commits). The in-app row, the queued e-mail and the live message are keyed by
(cause, user) with unique constraints, so redelivered events and restarted
schedulers have no second effect.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from podium_runtime.db import after_commit
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier import domain
from podium_notifier import repository as repo
from podium_notifier.config import Settings
from podium_notifier.live import LivePublisher
from podium_notifier.mail import EmailRenderer, TemplateFailed

log = logging.getLogger(__name__)


class NotFound(Exception):
    """The notification does not exist or belongs to someone else (SPEC §8: 404)."""


class UnknownNotificationType(Exception):
    """A preference names a type or channel that does not exist."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("unknown notification type or channel")
        self.errors = errors


@dataclass
class Message:
    """What one notification says; `data` travels to the client as is."""

    kind: str
    title: str
    body: str
    link: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delivery:
    """What happened for one user: which channels got something new."""

    in_app: Row[Any] | None = None
    email: bool = False


class Notifier:
    """Creates notifications on the channels a user's preferences allow."""

    def __init__(
        self,
        settings: Settings,
        live: LivePublisher,
        renderer: EmailRenderer | None = None,
        wake_sender: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.live = live
        self.renderer = renderer or EmailRenderer()
        self.wake_sender = wake_sender

    def link(self, path: str) -> str:
        """Return an absolute link into the web client."""
        return self.settings.public_base_url.rstrip("/") + path

    async def notify(
        self, session: AsyncSession, user_id: uuid.UUID, dedupe_key: str, message: Message
    ) -> Delivery:
        """Deliver `message` to a user in-app, by e-mail and live, as their preferences allow."""
        prefs = domain.effective_preferences(await repo.stored_preferences(session, user_id))
        wanted = prefs.get(message.kind, {"in_app": True, "email": True})
        delivery = Delivery()
        if wanted["in_app"]:
            row = await repo.insert_notification(
                session,
                {
                    "id": uuid.uuid4(),
                    "user_id": user_id,
                    "dedupe_key": dedupe_key,
                    "notification_type": message.kind,
                    "title": message.title,
                    "body": message.body,
                    "link": message.link,
                    "data": message.data,
                },
            )
            if row is not None:
                delivery.in_app = row
                self.live.publish_after_commit(
                    session, user_id, "notification", notification_view(row), event_id=row.seq
                )
        if wanted["email"]:
            user = await repo.get_user(session, user_id)
            if user is None:
                log.info("no e-mail address known for user; e-mail skipped")
            else:
                context = {
                    "display_name": user.display_name,
                    "title": message.title,
                    "body": message.body,
                    "link": message.link,
                }
                delivery.email = await self.queue_email(
                    session, user_id, user.email, dedupe_key, message.kind, "notification", context
                )
        return delivery

    async def queue_email(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        address: str,
        dedupe_key: str,
        kind: str,
        template: str,
        context: dict[str, Any],
    ) -> bool:
        """Render and queue one mail in the e-mail outbox; a broken template dead-letters it."""
        values: dict[str, Any] = {
            "user_id": user_id,
            "dedupe_key": dedupe_key,
            "notification_type": kind,
            "to_address": address,
        }
        try:
            rendered = self.renderer.render(template, context)
        except TemplateFailed as exc:
            # Kept as a dead mail for operators; the event and every other mail go on.
            log.error("e-mail template failed", extra={"template": template, "error": str(exc)})
            values |= {"subject": f"[template failed] {template}", "text_body": ""}
            values |= {"status": "dead", "last_error": str(exc)[:2000]}
        else:
            values |= {
                "subject": rendered.subject,
                "text_body": rendered.text_body,
                "html_body": rendered.html_body,
            }
        inserted = await repo.insert_email(session, values)
        if inserted and self.wake_sender is not None and values.get("status") != "dead":
            after_commit(session, self.wake_sender)
        return inserted

    # --- account mails (always sent, SPEC §7.4) -----------------------------------

    async def send_account_email(
        self,
        session: AsyncSession,
        kind: str,
        dedupe_key: str,
        user_id: uuid.UUID,
        address: str,
        display_name: str,
        token: str,
        expires_at: datetime,
    ) -> bool:
        """Queue a verification or reset mail with a link carrying the token."""
        path = "/verify-email" if kind == domain.EMAIL_VERIFICATION else "/reset-password"
        context = {
            "display_name": display_name,
            "token": token,
            "link": self.link(f"{path}?token={token}"),
            "expires_at": expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        return await self.queue_email(session, user_id, address, dedupe_key, kind, kind, context)

    # --- rank changes ---------------------------------------------------------------

    async def rank_changed(
        self,
        session: AsyncSession,
        dedupe_key: str,
        user_id: uuid.UUID,
        competition_id: uuid.UUID,
        old_rank: int | None,
        new_rank: int | None,
        score: float | None,
        at: datetime,
    ) -> Delivery | None:
        """Notify notable moves (top-10 entry/exit, drops), at most one per debounce window."""
        self.live.publish_after_commit(
            session,
            user_id,
            "leaderboard.updated",
            {
                "competition_id": str(competition_id),
                "old_rank": old_rank,
                "new_rank": new_rank,
                "score": score,
            },
        )
        if not domain.rank_change_is_notable(old_rank, new_rank):
            return None
        last = await repo.get_rank_notice(session, user_id, competition_id)
        window = timedelta(minutes=self.settings.rank_debounce_minutes)
        if domain.rank_change_is_debounced(last.last_notified_at if last else None, at, window):
            return None
        await repo.save_rank_notice(session, user_id, competition_id, at, new_rank)
        title = await self.competition_title(session, competition_id)
        if new_rank is None:
            text = f"You are no longer ranked on the leaderboard of {title}."
        elif old_rank is None or (old_rank > domain.TOP >= new_rank):
            text = f"You entered the top {domain.TOP} of {title}: rank {new_rank}."
        else:
            text = f"Your rank on {title} moved from {old_rank} to {new_rank}."
        message = Message(
            domain.RANK_CHANGED,
            "Your rank changed",
            text,
            self.link(f"/competitions/{competition_id}/leaderboard"),
            {
                "competition_id": str(competition_id),
                "old_rank": old_rank,
                "new_rank": new_rank,
                "score": score,
            },
        )
        return await self.notify(session, user_id, dedupe_key, message)

    async def competition_title(self, session: AsyncSession, competition_id: uuid.UUID) -> str:
        """Return a competition's title from the projection, or a neutral phrase."""
        row = await repo.get_competition(session, competition_id)
        return f"“{row.title}”" if row is not None else "a competition"


def notification_view(row: Row[Any]) -> dict[str, Any]:
    """Return the public shape of an in-app notification (SPEC §5.6)."""
    return {
        "id": str(row.id),
        "seq": row.seq,
        "type": row.notification_type,
        "title": row.title,
        "body": row.body,
        "link": row.link,
        "data": row.data,
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


async def preferences_view(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    """Return a user's full preference matrix (stored choices over defaults)."""
    return domain.effective_preferences(await repo.stored_preferences(session, user_id))


async def update_preferences(
    session: AsyncSession, user_id: uuid.UUID, changes: dict[str, dict[str, bool]]
) -> dict[str, Any]:
    """Apply partial changes `{type: {channel: bool}}`; unknown types or channels are refused."""
    errors = []
    choices: dict[tuple[str, str], bool] = {}
    for kind, channels in changes.items():
        if kind not in domain.DEFAULT_PREFERENCES:
            errors.append({"field": kind, "message": "unknown notification type"})
            continue
        for channel, enabled in channels.items():
            if channel not in domain.CHANNELS:
                errors.append({"field": f"{kind}.{channel}", "message": "unknown channel"})
                continue
            choices[(kind, channel)] = enabled
    if errors:
        raise UnknownNotificationType(errors)
    await repo.save_preferences(session, user_id, choices)
    return await preferences_view(session, user_id)


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> dict[str, Any]:
    """Mark one of the user's notifications read; someone else's is `NotFound`."""
    row = await repo.mark_read(session, user_id, notification_id)
    if row is None:
        raise NotFound(str(notification_id))
    return notification_view(row)

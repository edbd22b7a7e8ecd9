"""Use cases of the notifier: turn facts into notifications per user and channel (SPEC §7.4).

Every function works inside the caller's unit of work (it flushes, never
commits). The in-app row, the queued e-mail and the live message are keyed by
(cause, user) with unique constraints, so redelivered events and restarted
schedulers have no second effect.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from podium_contracts.events import (
    AnnouncementPosted,
    CompetitionData,
    DataExportReady,
    EnrollmentAccepted,
    EnrollmentLeft,
    EnrollmentRejected,
    FulfillmentUpdated,
    LearningData,
    RankChanged,
    SubmissionRejected,
    SubmissionScored,
    UserData,
    UserEmailVerificationRequested,
    UserPasswordResetRequested,
)
from podium_runtime.db import AnyRow, after_commit
from podium_runtime.problems import InvalidError, NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier import domain, profile_card
from podium_notifier.config import Settings
from podium_notifier.live import LivePublisher
from podium_notifier.mail import EmailRenderer, TemplateFailed
from podium_notifier.repositories import emails, inbox, preferences, projections, rank_notices

log = logging.getLogger(__name__)


class NotFound(NotFoundError):
    """The notification does not exist or belongs to someone else (SPEC §8: 404)."""

    def __init__(self) -> None:
        super().__init__("NOTIFICATION_NOT_FOUND", "No such notification.")


class UnknownNotificationType(InvalidError):
    """A preference names a type or channel that does not exist."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(
            "UNKNOWN_NOTIFICATION_TYPE",
            "Preferences name an unknown notification type or channel.",
            errors=errors,
        )


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

    in_app: AnyRow | None = None
    email: bool = False


@dataclass
class Notice:
    """What one event means for one user: live messages and, maybe, a notification.

    `dedupe_key` is the cause (event id or scheduler key) that makes the in-app
    row and the mail idempotent per (event, user, channel) (SPEC §7.4). `live`
    holds transient live messages `(event, data)`, published after commit just
    before the notification's own live message; `message` None means live only.
    """

    user_id: uuid.UUID
    dedupe_key: str
    message: Message | None = None
    live: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Mail:
    """One mail to render and queue in the e-mail outbox."""

    user_id: uuid.UUID
    address: str
    dedupe_key: str
    kind: str
    template: str
    context: dict[str, Any]

    @classmethod
    def notification(cls, notice: Notice) -> Mail:
        """The mail of a notice, its address and name still to come (`to`)."""
        assert notice.message is not None
        context = {
            "title": notice.message.title,
            "body": notice.message.body,
            "link": notice.message.link,
        }
        return cls(
            notice.user_id, "", notice.dedupe_key, notice.message.kind, "notification", context
        )

    def to(self, user: Any) -> Mail:
        """This mail addressed to `user` (a projection row or `UserData`), greeting them by name."""
        return replace(
            self, address=user.email, context=self.context | {"display_name": user.display_name}
        )

    @classmethod
    def released(cls, row: Any) -> Mail:
        """The mail a `held_emails` row kept (`held`), its address still to come (`to`)."""
        return cls(
            row.user_id, "", row.dedupe_key, row.notification_type, row.template, row.context
        )

    def held(self) -> dict[str, Any]:
        """The `held_emails` row keeping this mail until its address is known (ADR 0104)."""
        return {
            "user_id": self.user_id,
            "dedupe_key": self.dedupe_key,
            "notification_type": self.kind,
            "template": self.template,
            "context": self.context,
        }


@dataclass
class RankBoards:
    """Last rank notices of the boards a batch touches, locked until commit (debounce state)."""

    last: dict[tuple[uuid.UUID, uuid.UUID], datetime]
    changed: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, int | None]] = field(
        default_factory=dict
    )


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
        [delivery] = await self.notify_many(session, [Notice(user_id, dedupe_key, message)])
        return delivery

    async def notify_many(self, session: AsyncSession, notices: list[Notice]) -> list[Delivery]:
        """Deliver many notices with a few statements, as each user's preferences allow.

        Preferences and contact rows of all users are read at once; the in-app rows
        and the mails are inserted in bulk with ON CONFLICT DO NOTHING on their
        idempotency keys (SPEC §7.4), so a redelivered cause adds nothing. Live
        messages are published after commit, in the order of `notices`; a
        `notification` message only for an in-app row that is new. Returns one
        `Delivery` per notice.
        """
        wanted_users = [n.user_id for n in notices if n.message is not None]
        stored = await preferences.stored_preferences_of(session, wanted_users)
        rows: list[dict[str, Any]] = []
        mail_for: list[Notice] = []
        for notice in notices:
            if notice.message is None:
                continue
            prefs = domain.effective_preferences(stored.get(notice.user_id, {}))
            wanted = prefs.get(notice.message.kind, {"in_app": True, "email": True})
            if wanted["in_app"]:
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "user_id": notice.user_id,
                        "dedupe_key": notice.dedupe_key,
                        "notification_type": notice.message.kind,
                        "title": notice.message.title,
                        "body": notice.message.body,
                        "link": notice.message.link,
                        "data": notice.message.data,
                    }
                )
            if wanted["email"]:
                mail_for.append(notice)
        created = {
            (r.dedupe_key, r.user_id): r for r in await inbox.insert_notifications(session, rows)
        }

        mails: list[Mail] = []
        held: list[dict[str, Any]] = []
        contacts = await self.contacts(session, [n.user_id for n in mail_for])
        for notice in mail_for:
            mail, user = Mail.notification(notice), contacts.get(notice.user_id)
            if user is None:  # its address comes with `user.registered` (ADR 0104)
                held.append(mail.held())
            else:
                mails.append(mail.to(user))
        queued = await self.queue_emails(session, mails)
        queued |= dict.fromkeys(await emails.hold_emails(session, held), True)

        deliveries = []
        for notice in notices:
            for event, data in notice.live:
                self.live.publish_after_commit(session, notice.user_id, event, data)
            if notice.message is None:
                deliveries.append(Delivery())
                continue
            # pop: a second notice with the same cause and user got nothing new
            key = (notice.dedupe_key, notice.user_id)
            row = created.pop(key, None)
            if row is not None:
                self.live.publish_after_commit(
                    session,
                    notice.user_id,
                    "notification",
                    notification_view(row),
                    event_id=row.seq,
                )
            deliveries.append(Delivery(in_app=row, email=queued.pop(key, False)))
        return deliveries

    async def contacts(
        self, session: AsyncSession, user_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, AnyRow]:
        """Return the projection rows of the users to mail, as `release_held_mails` sees them.

        A user not known yet may be arriving in a transaction of another replica.
        Under the recipients' locks, either that transaction's release sees the mail
        held here, or this one sees its row: no mail is held after its release.
        """
        contacts = await projections.get_users(session, user_ids)
        unknown = sorted(set(user_ids) - contacts.keys())
        if unknown:
            await emails.lock_recipients(session, unknown)
            contacts |= await projections.get_users(session, unknown)
        return contacts

    async def release_held_mails(self, session: AsyncSession, user: UserData) -> None:
        """Queue the mails held until this user's address was known (ADR 0104)."""
        await emails.lock_recipients(session, [user.user_id])
        held = await emails.take_held_emails(session, user.user_id)
        await self.queue_emails(
            session,
            [Mail.released(row).to(user) for row in held],
        )

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
        mail = Mail(user_id, address, dedupe_key, kind, template, context)
        queued = await self.queue_emails(session, [mail])
        return queued.get((dedupe_key, user_id), False)

    async def queue_emails(
        self, session: AsyncSession, mails: list[Mail]
    ) -> dict[tuple[str, uuid.UUID], bool]:
        """Render and queue mails in one statement; a broken template dead-letters its mail.

        Returns, by `(dedupe_key, user_id)`, whether the mail is new (False when
        that cause already queued one for the user, SPEC §7.4). The sender is woken
        once after commit when any new mail is pending.
        """
        if not mails:
            return {}
        rows: list[dict[str, Any]] = []
        for mail in mails:
            values: dict[str, Any] = {
                "user_id": mail.user_id,
                "dedupe_key": mail.dedupe_key,
                "notification_type": mail.kind,
                "to_address": mail.address,
            }
            try:
                rendered = self.renderer.render(mail.template, mail.context)
            except TemplateFailed as exc:
                # Kept as a dead mail for operators; the event and every other mail go on.
                log.error(
                    "e-mail template failed", extra={"template": mail.template, "error": str(exc)}
                )
                values |= {
                    "subject": f"[template failed] {mail.template}",
                    "text_body": "",
                    "html_body": None,
                    "status": "dead",
                    "last_error": str(exc)[:2000],
                }
            else:
                values |= {
                    "subject": rendered.subject,
                    "text_body": rendered.text_body,
                    "html_body": rendered.html_body,
                    "status": "pending",
                    "last_error": None,
                }
            rows.append(values)
        inserted = await emails.insert_emails(session, rows)
        if self.wake_sender is not None and any(
            (r["dedupe_key"], r["user_id"]) in inserted and r["status"] != "dead" for r in rows
        ):
            after_commit(session, self.wake_sender)
        return {
            (r["dedupe_key"], r["user_id"]): (r["dedupe_key"], r["user_id"]) in inserted
            for r in rows
        }

    # --- account mails (always sent, SPEC §7.4) -----------------------------------

    def account_mail(
        self,
        kind: str,
        dedupe_key: str,
        user_id: uuid.UUID,
        address: str,
        display_name: str,
        token: str,
        expires_at: datetime,
    ) -> Mail:
        """Return the verification or reset mail with a link carrying the token."""
        path = "/verify-email" if kind == domain.EMAIL_VERIFICATION else "/reset-password"
        context = {
            "display_name": display_name,
            "token": token,
            "link": self.link(f"{path}?token={token}"),
            "expires_at": expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        return Mail(user_id, address, dedupe_key, kind, kind, context)

    # --- rank changes ---------------------------------------------------------------

    async def rank_boards(
        self, session: AsyncSession, pairs: Iterable[tuple[uuid.UUID, uuid.UUID]]
    ) -> RankBoards:
        """Lock and load the last rank notices of `(user_id, competition_id)` boards."""
        rows = await rank_notices.lock_rank_notices(session, pairs)
        return RankBoards({key: row.last_notified_at for key, row in rows.items()})

    async def save_rank_boards(self, session: AsyncSession, boards: RankBoards) -> None:
        """Store the rank notices `rank_notice` decided to send (one upsert)."""
        await rank_notices.save_rank_notices(session, boards.changed)

    def rank_notice(
        self,
        boards: RankBoards,
        dedupe_key: str,
        user_id: uuid.UUID,
        competition_id: uuid.UUID,
        old_rank: int | None,
        new_rank: int | None,
        score: float | None,
        at: datetime,
        title: str,
    ) -> Notice:
        """Return what a rank change means for the user (SPEC §7.4).

        Always a live `leaderboard.updated`; a notification only for notable moves
        (top-10 entry/exit, drops), at most one per board and debounce window.
        `boards` carries the debounce state, so events of one batch are judged in
        order as if they came one by one.
        """
        data = {
            "competition_id": str(competition_id),
            "old_rank": old_rank,
            "new_rank": new_rank,
            "score": score,
        }
        notice = Notice(user_id, dedupe_key, live=[("leaderboard.updated", data)])
        if not domain.rank_change_is_notable(old_rank, new_rank):
            return notice
        board = (user_id, competition_id)
        window = timedelta(minutes=self.settings.rank_debounce_minutes)
        if domain.rank_change_is_debounced(boards.last.get(board), at, window):
            return notice
        boards.last[board] = at
        boards.changed[board] = (at, new_rank)
        if new_rank is None:
            text = f"You are no longer ranked on the leaderboard of {title}."
        elif old_rank is None or (old_rank > domain.TOP >= new_rank):
            text = f"You entered the top {domain.TOP} of {title}: rank {new_rank}."
        else:
            text = f"Your rank on {title} moved from {old_rank} to {new_rank}."
        notice.message = Message(
            domain.RANK_CHANGED,
            "Your rank changed",
            text,
            self.link(f"/competitions/{competition_id}/leaderboard"),
            dict(data),
        )
        return notice

    async def competition_titles(
        self, session: AsyncSession, competition_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """Return the titles of many competitions (one query); a neutral phrase when unknown."""
        ids = set(competition_ids)
        rows = await projections.get_competitions(session, ids)
        return {c: f"“{rows[c].title}”" if c in rows else "a competition" for c in ids}


def notification_view(row: AnyRow) -> dict[str, Any]:
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
    return domain.effective_preferences(await preferences.stored_preferences(session, user_id))


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
    await preferences.save_preferences(session, user_id, choices)
    view = await preferences_view(session, user_id)
    profile_card.preferences_changed(session, user_id, view)
    return view


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> dict[str, Any]:
    """Mark one of the user's notifications read; someone else's is `NotFound`."""
    row = await inbox.mark_read(session, user_id, notification_id)
    if row is None:
        raise NotFound()
    return notification_view(row)


# --- facts in (called by the consumers) ------------------------------------------

AccountTokenEvent: TypeAlias = UserEmailVerificationRequested | UserPasswordResetRequested
EnrollmentEvent: TypeAlias = EnrollmentAccepted | EnrollmentRejected | EnrollmentLeft
NotifyingEvent: TypeAlias = (
    AccountTokenEvent
    | EnrollmentEvent
    | SubmissionScored
    | SubmissionRejected
    | RankChanged
    | AnnouncementPosted
)


async def record_user(session: AsyncSession, notifier: Notifier, data: UserData) -> None:
    """Keep the address, name and time zone notifications need; send the mails held for it."""
    await projections.upsert_user(
        session,
        {
            "user_id": data.user_id,
            "email": data.email,
            "display_name": data.display_name,
            "timezone": data.timezone,
        },
    )
    await notifier.release_held_mails(session, data)


async def record_competition(session: AsyncSession, data: CompetitionData) -> None:
    """Keep the title, schedule and daily-goal verb reminders need."""
    await projections.upsert_competition(
        session,
        {
            "competition_id": data.competition_id,
            "title": data.title,
            "kind": data.kind,
            "status": data.status,
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "timezone": data.timezone,
            "daily_goal_verb": data.activity_rules().daily_goal_verb or None,
        },
    )


async def record_statements(session: AsyncSession, facts: Sequence[LearningData]) -> None:
    """Remember who sent which verb when, so a done lesson suppresses its reminder.

    One statement for the batch, its rows applied in order (a statement named again
    takes the later `voided`); facts of actors who are not platform users are skipped:
    they have no reminders to suppress.
    """
    await projections.record_statements(
        session,
        [
            {
                "statement_id": data.statement_id,
                "user_id": data.user_id,
                "verb": data.verb,
                "timestamp": data.timestamp,
                "voided": data.voided,
            }
            for data in facts
            if data.user_id is not None
        ],
    )


async def notify_events(
    session: AsyncSession, notifier: Notifier, events: list[NotifyingEvent]
) -> None:
    """Turn a batch of events into notifications, mails and live messages (SPEC §7.4).

    Reads the competition titles and the debounce state of the rank boards once,
    judges the events in order (so a rank change is debounced against an earlier
    one of the same batch), then writes participants, rank notices, in-app rows
    and mails in bulk. Idempotency per (event, user, channel) holds through the
    unique keys; live messages go out after commit.
    """
    titles = await notifier.competition_titles(
        session, {e.data.competition_id for e in events if not isinstance(e, AccountTokenEvent)}
    )
    boards = await notifier.rank_boards(
        session,
        [
            (e.data.user_id, e.data.competition_id)
            for e in events
            if isinstance(e, RankChanged)
            and counts_for_rank_notice(e)
            and domain.rank_change_is_notable(e.data.old_rank, e.data.new_rank)
        ],
    )
    notices: list[Notice] = []
    mails: list[Mail] = []
    joined: dict[tuple[uuid.UUID, uuid.UUID], bool] = {}
    announcements: list[AnnouncementPosted] = []
    for event in events:
        if isinstance(event, UserEmailVerificationRequested | UserPasswordResetRequested):
            mails.append(account_mail(notifier, event))
        elif isinstance(event, EnrollmentAccepted | EnrollmentRejected | EnrollmentLeft):
            d = event.data
            if not isinstance(event, EnrollmentRejected):
                joined[(d.competition_id, d.user_id)] = isinstance(event, EnrollmentAccepted)
            notices.append(enrollment_notice(notifier, event, titles[d.competition_id]))
        elif isinstance(event, SubmissionScored):
            notices.append(scored_notice(notifier, event, titles[event.data.competition_id]))
        elif isinstance(event, SubmissionRejected):
            notices.append(rejected_notice(notifier, event, titles[event.data.competition_id]))
        elif isinstance(event, AnnouncementPosted):
            announcements.append(event)
        elif counts_for_rank_notice(event):
            rank = event.data
            notices.append(
                notifier.rank_notice(
                    boards,
                    str(event.id),
                    rank.user_id,
                    rank.competition_id,
                    rank.old_rank,
                    rank.new_rank,
                    rank.score,
                    event.occurred_at,
                    titles[rank.competition_id],
                )
            )
    await projections.set_participants(session, joined)
    notices += await announcement_notices(session, notifier, announcements, titles)
    await notifier.save_rank_boards(session, boards)
    await notifier.notify_many(session, notices)
    await notifier.queue_emails(session, mails)


async def announcement_notices(
    session: AsyncSession,
    notifier: Notifier,
    announcements: list[AnnouncementPosted],
    titles: dict[uuid.UUID, str],
) -> list[Notice]:
    """One notice per current participant of each announcement's competition (SPEC §10.2).

    The cause is the announcement's event id, so a redelivery reaches nobody twice.
    """
    if not announcements:
        return []
    rows = await projections.active_participants(
        session, {a.data.competition_id for a in announcements}
    )
    by_competition: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        by_competition.setdefault(row.competition_id, []).append(row.user_id)
    notices = []
    for event in announcements:
        d = event.data
        link = notifier.link(f"/competitions/{d.competition_id}")
        for user_id in by_competition.get(d.competition_id, []):
            message = Message(
                domain.ANNOUNCEMENT,
                f"{d.subject} ({titles[d.competition_id]})",
                d.body,
                link,
                {
                    "competition_id": str(d.competition_id),
                    "announcement_id": str(d.announcement_id),
                },
            )
            notices.append(Notice(user_id, str(event.id), message))
    return notices


def counts_for_rank_notice(event: RankChanged) -> bool:
    """One notice per competition: the overall public board is the one people track."""
    return bool(event.data.split == "public" and event.data.period == "all")


def account_mail(notifier: Notifier, event: AccountTokenEvent) -> Mail:
    """The verification or reset mail, sent whatever the preferences say (SPEC §7.4)."""
    d = event.data
    kind = (
        domain.EMAIL_VERIFICATION
        if isinstance(event, UserEmailVerificationRequested)
        else domain.PASSWORD_RESET
    )
    return notifier.account_mail(
        kind, str(event.id), d.user_id, d.email, d.display_name, d.token, d.expires_at
    )


def enrollment_notice(notifier: Notifier, event: EnrollmentEvent, title: str) -> Notice:
    """A live `enrollment.updated`, plus a notification when the request was decided."""
    d = event.data
    status = event.type.removeprefix("enrollment.")
    notice = Notice(
        d.user_id,
        str(event.id),
        live=[
            (
                "enrollment.updated",
                {"competition_id": str(d.competition_id), "status": status, "reason": d.reason},
            )
        ],
    )
    if isinstance(event, EnrollmentLeft):
        return notice
    link = notifier.link(f"/competitions/{d.competition_id}")
    data = {"competition_id": str(d.competition_id), "reason": d.reason}
    if isinstance(event, EnrollmentAccepted):
        notice.message = Message(
            domain.ENROLLMENT_ACCEPTED,
            "You joined a competition",
            f"You are now a participant of {title}.",
            link,
            data,
        )
    else:
        # No title: whoever was refused may not be allowed to see the competition (a
        # private one, a wrong invite code); they know which one they asked to join.
        why = domain.join_rejection_words(d.reason)
        notice.message = Message(
            domain.ENROLLMENT_REJECTED,
            "Your request to join was declined",
            f"You could not join the competition: {why}.",
            link,
            data,
        )
    return notice


def scored_notice(notifier: Notifier, event: SubmissionScored, title: str) -> Notice:
    """A live `submission.scored` and the notification with the public score."""
    d = event.data
    payload = {
        "submission_id": str(d.submission_id),
        "competition_id": str(d.competition_id),
        "metric": d.metric,
        "public_score": d.public_score,
        "scored_at": d.scored_at.isoformat(),
    }
    message = Message(
        domain.SUBMISSION_SCORED,
        "Your submission was scored",
        f"Your submission to {title} scored {d.public_score:.6g} ({d.metric}).",
        notifier.link(f"/submissions/{d.submission_id}"),
        payload,
    )
    # Keyed by submission, not by event: a rescore scores every submission again, and its
    # participants must not hear about each of them a second time.
    key = f"submission.scored:{d.submission_id}"
    return Notice(d.user_id, key, message, live=[("submission.scored", payload)])


def rejected_notice(notifier: Notifier, event: SubmissionRejected, title: str) -> Notice:
    """The notification naming the validation error codes (no daily-limit cost)."""
    d = event.data
    reasons = [domain.submission_error_words(code) for code in sorted({e.code for e in d.errors})]
    payload = {
        "submission_id": str(d.submission_id),
        "competition_id": str(d.competition_id),
        "errors": [e.model_dump(mode="json") for e in d.errors[:20]],
    }
    message = Message(
        domain.SUBMISSION_REJECTED,
        "Your submission was rejected",
        f"Your submission to {title} could not be scored: {'; '.join(reasons) or 'unknown'}."
        " It does not count against your daily limit.",
        notifier.link(f"/submissions/{d.submission_id}"),
        payload,
    )
    return Notice(d.user_id, str(event.id), message)


async def notify_data_export(
    session: AsyncSession, notifier: Notifier, event: DataExportReady
) -> None:
    """Tell a user their personal-data archive is ready, in-app and by e-mail (ADR 0058)."""
    d = event.data
    message = Message(
        domain.DATA_EXPORT,
        "Your data export is ready",
        f"The archive of everything Podium holds about you can be downloaded until "
        f"{d.expires_at:%d %B %Y %H:%M} UTC; after that it is deleted.",
        notifier.link(f"/v1/users/me/export/{d.export_id}"),
        {"export_id": str(d.export_id), "expires_at": d.expires_at.isoformat()},
    )
    await notifier.notify_many(session, [Notice(d.user_id, str(event.id), message)])


async def notify_prize(
    session: AsyncSession, notifier: Notifier, event: FulfillmentUpdated
) -> None:
    """Notify a winner of one change of their prize (from the rewards service)."""
    notice = prize_notice(notifier, event)
    await notifier.notify_many(session, [notice])


def prize_notice(notifier: Notifier, event: FulfillmentUpdated) -> Notice:
    """The winner's notification for one change of their prize (never their address)."""
    d = event.data
    prize, drawing = d.prize_name, d.drawing_name
    claim_by = f"{d.claim_by:%d %B %Y}" if d.claim_by else "the deadline"
    titles = {
        "won": (
            f"You won {prize}!",
            f"Your ticket in “{drawing}” won {prize}. Give your shipping address by "
            f"{claim_by} to claim it.",
        ),
        "reminder": (
            "Claim your prize",
            f"You have until {claim_by} to give your shipping address for {prize} "
            f"(“{drawing}”); after that it goes to another participant.",
        ),
        "shipped": (
            "Your prize is on its way",
            f"{prize} was shipped with {d.carrier}, tracking number {d.tracking_number}.",
        ),
        "delivered": (
            f"Your prize: {prize}",
            f"Your ticket in “{drawing}” won {prize}. Your code: {d.code}."
            if d.kind == "digital"
            else f"{prize} was delivered. Enjoy!",
        ),
        "forfeited": (
            "Your prize was forfeited",
            f"{prize} (“{drawing}”) was not claimed in time and went to another participant.",
        ),
    }
    title, body = titles[d.change]
    data = {
        "fulfillment_id": str(d.fulfillment_id),
        "drawing_id": str(d.drawing_id),
        "change": d.change,
        "status": d.status,
    }
    message = Message(domain.PRIZE, title, body, notifier.link("/rewards"), data)
    return Notice(d.user_id, str(event.id), message)

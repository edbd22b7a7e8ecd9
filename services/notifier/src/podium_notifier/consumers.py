"""Event handlers of the notifier (thin): projections in, notifications out (SPEC §7.4).

Each handler runs in the runtime's unit of work with inbox deduplication; the
in-app and e-mail rows are additionally unique per (event id, user), so a
redelivered event has no second effect even past the inbox. The events that
notify someone are handled a poll at a time (`handles_batch`); should a batch
fail, the runtime applies its events one by one with retries and dead-letters
only the one that cannot be handled.
"""

from __future__ import annotations

import uuid
from typing import TypeAlias

from podium_contracts.events import (
    CompetitionCreated,
    CompetitionUpdated,
    EnrollmentAccepted,
    EnrollmentLeft,
    EnrollmentRejected,
    FulfillmentUpdated,
    RankChanged,
    StatementRecorded,
    SubmissionRejected,
    SubmissionScored,
    UserEmailVerificationRequested,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
)
from podium_runtime.broker import EventConsumer
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier import domain
from podium_notifier import repository as repo
from podium_notifier.service import Mail, Message, Notice, Notifier

AccountTokenEvent: TypeAlias = UserEmailVerificationRequested | UserPasswordResetRequested
EnrollmentEvent: TypeAlias = EnrollmentAccepted | EnrollmentRejected | EnrollmentLeft
NotifyingEvent: TypeAlias = (
    AccountTokenEvent | EnrollmentEvent | SubmissionScored | SubmissionRejected | RankChanged
)

#: Human words for the stable rejection codes competitions emits (SPEC §5.2 join rules).
REJECTION_REASONS = {
    "COMPETITION_FULL": "the competition is full",
    "COMPETITION_NOT_ACTIVE": "the competition is not open",
    "COMPETITION_STARTED": "the competition has already started",
    "INVALID_INVITE_CODE": "the invite code is not valid",
    "OWNER_CANNOT_JOIN": "owners do not join their own competition",
}


def register(consumer: EventConsumer, notifier: Notifier) -> None:
    """Register every notifier handler on the service's consumer."""

    @consumer.handles(UserRegistered, UserUpdated)
    async def on_user(session: AsyncSession, event: UserRegistered | UserUpdated) -> None:
        d = event.data
        await repo.upsert_user(
            session,
            {
                "user_id": d.user_id,
                "email": d.email,
                "display_name": d.display_name,
                "timezone": d.timezone,
            },
        )

    @consumer.handles(CompetitionCreated, CompetitionUpdated)
    async def on_competition(
        session: AsyncSession, event: CompetitionCreated | CompetitionUpdated
    ) -> None:
        d = event.data
        goal = (d.rules or {}).get("daily_goal_verb")
        await repo.upsert_competition(
            session,
            {
                "competition_id": d.competition_id,
                "title": d.title,
                "kind": d.kind,
                "status": d.status,
                "starts_at": d.starts_at,
                "ends_at": d.ends_at,
                "timezone": d.timezone,
                "daily_goal_verb": goal if isinstance(goal, str) and goal else None,
            },
        )

    @consumer.handles(StatementRecorded)
    async def on_statement(session: AsyncSession, event: StatementRecorded) -> None:
        d = event.data
        if d.user_id is None:
            return  # not a platform user: no reminders to suppress
        await repo.record_statement(
            session, d.statement_id, d.user_id, d.verb, d.timestamp, d.voided
        )

    @consumer.handles(FulfillmentUpdated)
    async def on_prize(session: AsyncSession, event: FulfillmentUpdated) -> None:
        """Tell a winner about their prize: won, reminder, shipped, delivered, forfeited."""
        notice = prize_notice(notifier, event)
        await notifier.notify(session, notice.user_id, notice.dedupe_key, notice.message)

    # The hot path (SPEC §7.4): every notification-producing event of one poll is
    # handled in one unit of work with a few bulk statements. Events of other
    # types (projections) still run one by one in between, so order is kept.
    @consumer.handles_batch(
        SubmissionScored,
        SubmissionRejected,
        EnrollmentAccepted,
        EnrollmentRejected,
        EnrollmentLeft,
        RankChanged,
        UserEmailVerificationRequested,
        UserPasswordResetRequested,
    )
    async def on_notifying_events(session: AsyncSession, events: list[NotifyingEvent]) -> None:
        await handle_notifying_events(session, notifier, events)


async def handle_notifying_events(
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
        elif counts_for_rank_notice(event):
            d = event.data
            notices.append(
                notifier.rank_notice(
                    boards,
                    str(event.id),
                    d.user_id,
                    d.competition_id,
                    d.old_rank,
                    d.new_rank,
                    d.score,
                    event.occurred_at,
                    titles[d.competition_id],
                )
            )
    await repo.set_participants(session, joined)
    await notifier.save_rank_boards(session, boards)
    await notifier.notify_many(session, notices)
    await notifier.queue_emails(session, mails)


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
        why = REJECTION_REASONS.get(d.reason or "", d.reason or "no reason given")
        notice.message = Message(
            domain.ENROLLMENT_REJECTED,
            "Your request to join was declined",
            f"You could not join {title}: {why}.",
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
    return Notice(d.user_id, str(event.id), message, live=[("submission.scored", payload)])


def rejected_notice(notifier: Notifier, event: SubmissionRejected, title: str) -> Notice:
    """The notification naming the validation error codes (no daily-limit cost)."""
    d = event.data
    codes = sorted({e.code for e in d.errors})
    payload = {
        "submission_id": str(d.submission_id),
        "competition_id": str(d.competition_id),
        "errors": [e.model_dump(mode="json") for e in d.errors[:20]],
    }
    message = Message(
        domain.SUBMISSION_REJECTED,
        "Your submission was rejected",
        f"Your submission to {title} could not be scored: {', '.join(codes) or 'unknown'}."
        " It does not count against your daily limit.",
        notifier.link(f"/submissions/{d.submission_id}"),
        payload,
    )
    return Notice(d.user_id, str(event.id), message)


def prize_notice(notifier: Notifier, event: FulfillmentUpdated) -> Notice:
    """The winner's notification for one change of their prize (services/rewards)."""
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

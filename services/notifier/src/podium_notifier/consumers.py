"""Event handlers of the notifier (thin): projections in, notifications out (SPEC §7.4).

Each handler runs in the runtime's unit of work with inbox deduplication; the
in-app and e-mail rows are additionally unique per (event id, user), so a
redelivered event has no second effect even past the inbox.
"""

from __future__ import annotations

from podium_contracts.events import (
    CompetitionCreated,
    CompetitionUpdated,
    EnrollmentAccepted,
    EnrollmentLeft,
    EnrollmentRejected,
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
from podium_notifier.service import Message, Notifier

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

    @consumer.handles(UserEmailVerificationRequested, UserPasswordResetRequested)
    async def on_account_token(
        session: AsyncSession, event: UserEmailVerificationRequested | UserPasswordResetRequested
    ) -> None:
        d = event.data
        kind = (
            domain.EMAIL_VERIFICATION
            if isinstance(event, UserEmailVerificationRequested)
            else domain.PASSWORD_RESET
        )
        await notifier.send_account_email(
            session, kind, str(event.id), d.user_id, d.email, d.display_name, d.token, d.expires_at
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

    @consumer.handles(EnrollmentAccepted, EnrollmentRejected, EnrollmentLeft)
    async def on_enrollment(
        session: AsyncSession, event: EnrollmentAccepted | EnrollmentRejected | EnrollmentLeft
    ) -> None:
        d = event.data
        status = event.type.removeprefix("enrollment.")
        notifier.live.publish_after_commit(
            session,
            d.user_id,
            "enrollment.updated",
            {"competition_id": str(d.competition_id), "status": status, "reason": d.reason},
        )
        if isinstance(event, EnrollmentLeft):
            await repo.set_participant(session, d.competition_id, d.user_id, active=False)
            return
        title = await notifier.competition_title(session, d.competition_id)
        link = notifier.link(f"/competitions/{d.competition_id}")
        data = {"competition_id": str(d.competition_id), "reason": d.reason}
        if isinstance(event, EnrollmentAccepted):
            await repo.set_participant(session, d.competition_id, d.user_id, active=True)
            message = Message(
                domain.ENROLLMENT_ACCEPTED,
                "You joined a competition",
                f"You are now a participant of {title}.",
                link,
                data,
            )
        else:
            why = REJECTION_REASONS.get(d.reason or "", d.reason or "no reason given")
            message = Message(
                domain.ENROLLMENT_REJECTED,
                "Your request to join was declined",
                f"You could not join {title}: {why}.",
                link,
                data,
            )
        await notifier.notify(session, d.user_id, str(event.id), message)

    @consumer.handles(SubmissionScored)
    async def on_scored(session: AsyncSession, event: SubmissionScored) -> None:
        d = event.data
        payload = {
            "submission_id": str(d.submission_id),
            "competition_id": str(d.competition_id),
            "metric": d.metric,
            "public_score": d.public_score,
            "scored_at": d.scored_at.isoformat(),
        }
        notifier.live.publish_after_commit(session, d.user_id, "submission.scored", payload)
        title = await notifier.competition_title(session, d.competition_id)
        message = Message(
            domain.SUBMISSION_SCORED,
            "Your submission was scored",
            f"Your submission to {title} scored {d.public_score:.6g} ({d.metric}).",
            notifier.link(f"/submissions/{d.submission_id}"),
            payload,
        )
        await notifier.notify(session, d.user_id, str(event.id), message)

    @consumer.handles(SubmissionRejected)
    async def on_rejected(session: AsyncSession, event: SubmissionRejected) -> None:
        d = event.data
        codes = sorted({e.code for e in d.errors})
        payload = {
            "submission_id": str(d.submission_id),
            "competition_id": str(d.competition_id),
            "errors": [e.model_dump(mode="json") for e in d.errors[:20]],
        }
        title = await notifier.competition_title(session, d.competition_id)
        message = Message(
            domain.SUBMISSION_REJECTED,
            "Your submission was rejected",
            f"Your submission to {title} could not be scored: {', '.join(codes) or 'unknown'}."
            " It does not count against your daily limit.",
            notifier.link(f"/submissions/{d.submission_id}"),
            payload,
        )
        await notifier.notify(session, d.user_id, str(event.id), message)

    @consumer.handles(RankChanged)
    async def on_rank_changed(session: AsyncSession, event: RankChanged) -> None:
        d = event.data
        if d.split != "public" or d.period != "all":
            return  # one notice per competition: the overall public board is the one people track
        await notifier.rank_changed(
            session,
            str(event.id),
            d.user_id,
            d.competition_id,
            d.old_rank,
            d.new_rank,
            d.score,
            event.occurred_at,
        )

    @consumer.handles(StatementRecorded)
    async def on_statement(session: AsyncSession, event: StatementRecorded) -> None:
        d = event.data
        if d.user_id is None:
            return  # not a platform user: no reminders to suppress
        await repo.record_statement(
            session, d.statement_id, d.user_id, d.verb, d.timestamp, d.voided
        )

"""Event handlers of the notifier (thin): projections in, notifications out (SPEC §7.4).

Each handler runs in the runtime's unit of work with inbox deduplication; the
in-app and e-mail rows are additionally unique per (event id, user), so a
redelivered event has no second effect even past the inbox. The events that
notify someone are handled a poll at a time (`handles_batch`); should a batch
fail, the runtime applies its events one by one with retries and dead-letters
only the one that cannot be handled.
"""

from __future__ import annotations

from podium_contracts.events import (
    AnnouncementPosted,
    CompetitionCreated,
    CompetitionUpdated,
    DataExportReady,
    EnrollmentAccepted,
    EnrollmentLeft,
    EnrollmentRejected,
    FulfillmentUpdated,
    RankChanged,
    StatementRecorded,
    StatementsRecorded,
    SubmissionRejected,
    SubmissionScored,
    UserEmailVerificationRequested,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
)
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_notifier import service
from podium_notifier.service import Notifier, NotifyingEvent

router = EventRouter()


@router.handles(UserRegistered, UserUpdated)
async def on_user(
    session: AsyncSession, event: UserRegistered | UserUpdated, *, notifier: Notifier
) -> None:
    """Keep the user's address, name and time zone; send the mails that waited for it."""
    await service.record_user(session, notifier, event.data)


@router.handles(CompetitionCreated, CompetitionUpdated)
async def on_competition(
    session: AsyncSession, event: CompetitionCreated | CompetitionUpdated
) -> None:
    """Keep the competition's title, schedule and daily-goal verb."""
    await service.record_competition(session, event.data)


@router.handles(StatementsRecorded)
async def on_statements(session: AsyncSession, event: StatementsRecorded) -> None:
    """Remember the learner's statements for the daily reminder."""
    await service.record_statements(session, event.data.facts)


# One event per statement, as ingest emitted before ADR 0068; may still be in flight.
@router.handles(StatementRecorded)
async def on_statement(session: AsyncSession, event: StatementRecorded) -> None:
    """Remember the learner's statement for the daily reminder."""
    await service.record_statements(session, [event.data])


@router.handles(FulfillmentUpdated)
async def on_prize(session: AsyncSession, event: FulfillmentUpdated, *, notifier: Notifier) -> None:
    """Tell a winner about their prize: won, reminder, shipped, delivered, forfeited."""
    await service.notify_prize(session, notifier, event)


@router.handles(DataExportReady)
async def on_data_export(
    session: AsyncSession, event: DataExportReady, *, notifier: Notifier
) -> None:
    """Tell the user their personal-data archive is ready."""
    await service.notify_data_export(session, notifier, event)


# The hot path (SPEC §7.4): every notification-producing event of one poll is
# handled in one unit of work with a few bulk statements. Events of other
# types (projections) still run one by one in between, so order is kept.
@router.handles_batch(
    SubmissionScored,
    SubmissionRejected,
    EnrollmentAccepted,
    EnrollmentRejected,
    EnrollmentLeft,
    RankChanged,
    UserEmailVerificationRequested,
    UserPasswordResetRequested,
    AnnouncementPosted,
)
async def on_notifying_events(
    session: AsyncSession, events: list[NotifyingEvent], *, notifier: Notifier
) -> None:
    """Turn a poll's events into notifications, mails and live messages."""
    await service.notify_events(session, notifier, events)

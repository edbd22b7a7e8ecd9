"""Notifications from facts, on real Postgres without HTTP, Kafka or uvicorn (SPEC §7.4).

The first tests call the use case; the last ones feed serialized events
through the runtime's dispatcher with the notifier's own router, so the
consumer wiring (inbox, dependencies, batch path) is what is under test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis
from podium_contracts.codes import JoinRejection, SubmissionErrorCode
from podium_contracts.events import (
    CompetitionCreated,
    CompetitionData,
    EnrollmentData,
    EnrollmentRejected,
    RejectedData,
    SubmissionError,
    SubmissionRejected,
    UserData,
    UserRegistered,
)
from podium_notifier import consumers, service
from podium_notifier.config import Settings
from podium_notifier.live import LivePublisher
from podium_notifier.models import metadata
from podium_notifier.repositories import inbox, projections
from podium_notifier.service import Notifier
from podium_runtime.broker import EventConsumer
from podium_runtime.outbox import messaging_tables, new_event
from podium_runtime.rollback import RolledBackDatabase, deliver
from podium_runtime.routing import include_router
from sqlalchemy.ext.asyncio import AsyncSession

SETTINGS = Settings(database_url="postgresql://unused/unused")


@pytest.fixture
def notifier() -> Notifier:
    """The notifier's use cases; live messages go out only after a commit, never here."""
    return Notifier(SETTINGS, LivePublisher(redis.Redis()))


def _user() -> UserData:
    user_id = uuid.uuid4()
    return UserData(
        user_id=user_id, email=f"{user_id}@example.test", display_name="Ada", timezone="UTC"
    )


def _competition(title: str = "Churn") -> CompetitionData:
    now = datetime.now(UTC)
    return CompetitionData(
        competition_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        kind="activity",
        title=title,
        visibility="public",
        status="active",
        starts_at=now,
        ends_at=now + timedelta(days=3),
        timezone="UTC",
        rules={"points": [], "daily_goal_verb": "http://adlnet.gov/expapi/verbs/completed"},
    )


async def _inbox(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await inbox.list_notifications(session, user_id, unread_only=False, limit=10)
    return [row.body for row in rows]


async def test_a_full_competition_is_explained_in_words(
    session: AsyncSession, notifier: Notifier
) -> None:
    user, competition = _user(), _competition()
    await service.record_user(session, notifier, user)
    await service.record_competition(session, competition)
    rejected = new_event(
        EnrollmentRejected,
        "competitions",
        EnrollmentData(
            competition_id=competition.competition_id,
            user_id=user.user_id,
            reason=JoinRejection.FULL,
        ),
    )
    await service.notify_events(session, notifier, [rejected])  # type: ignore[list-item]
    assert await _inbox(session, user.user_id) == [
        "You could not join the competition: the competition is full."
    ]


async def test_a_rejected_submission_names_each_error_in_words(
    session: AsyncSession, notifier: Notifier
) -> None:
    user, competition = _user(), _competition()
    await service.record_user(session, notifier, user)
    await service.record_competition(session, competition)
    rejected = new_event(
        SubmissionRejected,
        "scoring",
        RejectedData(
            submission_id=uuid.uuid4(),
            competition_id=competition.competition_id,
            user_id=user.user_id,
            errors=[SubmissionError(code=SubmissionErrorCode.NOT_CSV, message="binary")],
            submitted_at=datetime.now(UTC),
        ),
    )
    await service.notify_events(session, notifier, [rejected])  # type: ignore[list-item]
    (body,) = await _inbox(session, user.user_id)
    assert "the file is not CSV (NOT_CSV)" in body


async def test_the_daily_goal_verb_is_read_from_the_typed_rules(session: AsyncSession) -> None:
    competition = _competition()
    await service.record_competition(session, competition)
    stored = await projections.get_competitions(session, {competition.competition_id})
    verb = stored[competition.competition_id].daily_goal_verb
    assert verb == "http://adlnet.gov/expapi/verbs/completed"


# --- the same use cases reached through the dispatcher ----------------------------------


@pytest.fixture
def dispatcher(database: RolledBackDatabase, notifier: Notifier) -> EventConsumer:
    """The runtime's consumer with the notifier's router, on the test's transaction."""
    consumer = EventConsumer("notifier", database, messaging_tables(metadata).inbox, SETTINGS)
    include_router(consumer, consumers.router, SETTINGS, {"notifier": notifier})
    return consumer


async def test_events_reach_the_handlers_through_the_dispatcher_once(
    dispatcher: EventConsumer, session: AsyncSession
) -> None:
    user, competition = _user(), _competition("Lessons")
    registered = new_event(UserRegistered, "identity", user)
    created = new_event(CompetitionCreated, "competitions", competition)
    rejected = new_event(
        EnrollmentRejected,
        "competitions",
        EnrollmentData(
            competition_id=competition.competition_id,
            user_id=user.user_id,
            reason=JoinRejection.ALREADY_STARTED,
        ),
    )
    await deliver(dispatcher, registered, created, rejected, rejected)  # the last one redelivered
    assert await _inbox(session, user.user_id) == [
        "You could not join the competition: the competition has already started."
    ]


def test_the_router_declares_every_notifying_event() -> None:
    handled = {cls.__name__ for route in consumers.router.routes for cls in route.event_classes}
    assert {"EnrollmentRejected", "SubmissionRejected", "RankChanged", "UserRegistered"} <= handled

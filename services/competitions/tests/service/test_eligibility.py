"""Competitions answers "may this caller submit / join now?" itself (SPEC §5.2, §5.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import competitions_factories as factories
import pytest
from podium_competitions import eligibility, enrollments
from podium_competitions.service import NotFound
from podium_competitions.views import Caller
from podium_contracts.codes import JoinRejection, SubmissionRefusal
from sqlalchemy.ext.asyncio import AsyncSession


async def _participant(session: AsyncSession, competition_id: uuid.UUID) -> Caller:
    request = factories.join(competition_id)
    assert await enrollments.decide_joins(session, factories.outbox(), [request]) == ["accepted"]
    return Caller(request.user_id)


async def test_a_participant_may_submit_to_a_running_prediction_competition(
    session: AsyncSession,
) -> None:
    competition = await factories.competition(session)
    caller = await _participant(session, competition.id)
    decision = await eligibility.may_submit(session, caller, competition.id)
    assert decision.allowed and decision.code is None
    assert decision.competition.id == competition.id
    assert decision.competition.viewer is not None
    assert decision.competition.viewer.role == "participant"


async def test_a_stranger_is_not_enrolled(session: AsyncSession) -> None:
    competition = await factories.competition(session)
    decision = await eligibility.may_submit(session, Caller(uuid.uuid4()), competition.id)
    assert (decision.allowed, decision.code, decision.status) == (
        False,
        SubmissionRefusal.NOT_ENROLLED,
        403,
    )


async def test_an_activity_competition_takes_no_files(session: AsyncSession) -> None:
    rules = {"points": [{"verb": "http://adlnet.gov/expapi/verbs/passed", "points": 5}]}
    competition = await factories.competition(session, kind="activity", metric=None, rules=rules)
    decision = await eligibility.may_submit(session, Caller(uuid.uuid4()), competition.id)
    assert decision.code == SubmissionRefusal.NOT_A_PREDICTION_COMPETITION
    assert decision.status == 409


async def test_before_the_start_a_participant_must_wait(session: AsyncSession) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    competition = await factories.competition(session, starts_at=later)
    caller = await _participant(session, competition.id)
    decision = await eligibility.may_submit(session, caller, competition.id)
    assert (decision.code, decision.status) == (SubmissionRefusal.COMPETITION_NOT_ACTIVE, 409)
    assert decision.detail == "The competition has not started yet."


async def test_an_unknown_competition_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await eligibility.may_submit(session, Caller(uuid.uuid4()), uuid.uuid4())


async def test_join_answers_with_the_rules_of_the_join_decision(session: AsyncSession) -> None:
    competition = await factories.competition(session, max_participants=1)
    first = await eligibility.may_join(session, Caller(uuid.uuid4()), competition.id, None)
    assert (first.allowed, first.code) == (True, None)
    caller = await _participant(session, competition.id)
    again = await eligibility.may_join(session, caller, competition.id, None)
    assert again.allowed and again.enrolled
    full = await eligibility.may_join(session, Caller(uuid.uuid4()), competition.id, None)
    assert (full.allowed, full.code) == (False, JoinRejection.FULL)
    owner = await eligibility.may_join(session, Caller(competition.owner_id), competition.id, None)
    assert owner.code == JoinRejection.OWNER_CANNOT_JOIN

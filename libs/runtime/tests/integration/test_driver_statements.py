"""Statements run on the driver (ADR 0100): same values, same transaction as the session."""

from __future__ import annotations

import uuid

import pytest
from podium_contracts.events import ScoredData, SubmissionScored
from podium_runtime.db import Database, DriverStatement
from podium_runtime.outbox import claim_event, claim_events, new_event
from probe import ProbeSettings, messaging
from sqlalchemy import JSON, bindparam, select, text


def _scored() -> SubmissionScored:
    return new_event(
        SubmissionScored,
        "probe",
        ScoredData.model_validate(
            {
                "submission_id": uuid.uuid4(),
                "competition_id": uuid.uuid4(),
                "user_id": uuid.uuid4(),
                "metric": "auc_roc",
                "higher_is_better": True,
                "public_score": 0.5,
                "private_score": 0.5,
                "submitted_at": "2026-12-02T10:00:00Z",
                "scored_at": "2026-12-02T10:00:01Z",
            }
        ),
    )


async def test_values_are_bound_by_name_whatever_their_order_or_repetition(
    probe_settings: ProbeSettings,
) -> None:
    statement = DriverStatement(
        text("SELECT CAST(:b AS int) - CAST(:a AS int) AS d, CAST(:a AS int) * 10 AS a10")
    )
    database = Database(probe_settings.database_url, pool_size=1)
    try:
        async with database.session() as session:
            first = await statement.fetch(session, {"a": 2, "b": 7})
            second = await statement.fetch(session, {"b": 1, "a": 4})
    finally:
        await database.dispose()
    assert [(row["d"], row["a10"]) for row in first + second] == [(5, 20), (-3, 40)]


async def test_it_commits_and_rolls_back_with_the_unit_of_work(
    probe_settings: ProbeSettings,
) -> None:
    database = Database(probe_settings.database_url, pool_size=1)
    inbox = messaging.inbox
    rolled_back, committed = _scored(), _scored()
    try:
        with pytest.raises(RuntimeError):
            async with database.session() as session:
                assert await claim_event(session, inbox, "probe", rolled_back)
                raise RuntimeError("the unit of work fails after the claim")
        async with database.session() as session:
            fresh = await claim_events(session, inbox, "probe", [rolled_back, committed])
        async with database.session() as session:
            again = await claim_events(session, inbox, "probe", [rolled_back, committed])
            stored = set(
                await session.scalars(
                    select(inbox.c.event_id).where(
                        inbox.c.event_id.in_([rolled_back.id, committed.id])
                    )
                )
            )
    finally:
        await database.dispose()
    # The rolled-back claim left nothing: both were new to the second unit of work,
    # which committed them, so a third finds neither new.
    assert fresh == {rolled_back.id, committed.id}
    assert again == set()
    assert stored == {rolled_back.id, committed.id}


async def test_a_parameter_that_needs_bind_processing_is_refused(
    probe_settings: ProbeSettings,
) -> None:
    statement = DriverStatement(text("SELECT :doc AS doc").bindparams(bindparam("doc", type_=JSON)))
    database = Database(probe_settings.database_url, pool_size=1)
    try:
        with pytest.raises(TypeError, match="doc"):
            async with database.session() as session:
                await statement.fetch(session, {"doc": {"a": 1}})
    finally:
        await database.dispose()


async def test_it_follows_the_session_from_one_transaction_to_the_next(
    probe_settings: ProbeSettings,
) -> None:
    # The driver connection is kept per transaction: after a commit the next statement
    # runs in the session's new transaction, the one its own statements run in.
    current = DriverStatement(text("SELECT CAST(txid_current() AS bigint) AS id"))
    database = Database(probe_settings.database_url, pool_size=2)
    try:
        async with database.sessionmaker() as session:
            first = [(await current.fetch(session, {}))[0]["id"] for _ in range(2)]
            first.append(await session.scalar(text("SELECT txid_current()")))
            await session.commit()
            second = [(await current.fetch(session, {}))[0]["id"] for _ in range(2)]
            second.append(await session.scalar(text("SELECT txid_current()")))
            await session.rollback()
    finally:
        await database.dispose()
    assert len(set(first)) == 1
    assert len(set(second)) == 1
    assert first[0] != second[0]

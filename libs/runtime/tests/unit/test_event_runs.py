"""Runs of events (ADR 0099): each document is the event a model would have written."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from podium_contracts.events import RankChanged, RankChangedData, parse_event
from podium_runtime.context import causation_id_var, correlation_id_var
from podium_runtime.outbox import EventRun, new_event, new_event_run, new_ids

CANONICAL_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

ranks = st.none() | st.integers(min_value=1, max_value=10**9)
scores = st.none() | st.floats(allow_nan=False, allow_infinity=False)
changes = st.lists(
    st.tuples(st.uuids(), ranks, ranks, scores, st.sampled_from(["public", "private"])),
    min_size=1,
    max_size=30,
)


def _data(board: uuid.UUID, change: tuple) -> dict[str, object]:
    user_id, old_rank, new_rank, score, split = change
    return {
        "competition_id": str(board),
        "user_id": user_id,
        "split": split,
        "period": "all",
        "old_rank": old_rank,
        "new_rank": new_rank,
        "score": score,
    }


@given(board=st.uuids(), changes=changes)
def test_each_document_of_a_run_is_the_json_of_the_event_it_stands_for(
    board: uuid.UUID, changes: list[tuple]
) -> None:
    run = new_event_run(RankChanged, "competitions", [_data(board, c) for c in changes])
    assert run is not None
    staged = run.staged()
    assert len(staged) == len(changes)
    for (event_id, key, document), change in zip(staged, changes, strict=True):
        event = parse_event(document)
        # What a model built from the same values writes, byte for byte.
        expected = RankChanged(
            id=uuid.UUID(str(event_id)),
            occurred_at=run.first.occurred_at,
            producer="competitions",
            correlation_id=run.first.correlation_id,
            causation_id=run.first.causation_id,
            data=RankChangedData.model_validate(_data(board, change)),
        )
        assert document == expected.model_dump_json()
        assert event == expected
        assert key == str(board) == event.partition_key()
    assert len({event_id for event_id, _, _ in staged}) == len(staged)


def test_a_run_shares_the_context_of_the_unit_of_work_that_built_it() -> None:
    board = uuid.uuid4()
    correlation, causation = correlation_id_var.set("req-7"), causation_id_var.set("evt-3")
    try:
        run = new_event_run(
            RankChanged, "competitions", [_data(board, (uuid.uuid4(), 1, 2, 0.5, "public"))] * 3
        )
    finally:
        correlation_id_var.reset(correlation)
        causation_id_var.reset(causation)
    assert run is not None
    events = [parse_event(document) for _, _, document in run.staged()]
    assert {(e.correlation_id, e.causation_id, e.occurred_at) for e in events} == {
        ("req-7", "evt-3", run.first.occurred_at)
    }


def test_no_data_makes_no_run() -> None:
    assert new_event_run(RankChanged, "competitions", []) is None


def test_the_first_event_of_a_run_is_validated() -> None:
    with pytest.raises(ValueError, match="old_rank"):
        new_event_run(
            RankChanged,
            "competitions",
            [{**_data(uuid.uuid4(), (uuid.uuid4(), 1, 2, 0.5, "public")), "old_rank": "first"}],
        )


def test_a_run_of_one_event_is_that_event() -> None:
    event = new_event(
        RankChanged,
        "competitions",
        RankChangedData.model_validate(_data(uuid.uuid4(), (uuid.uuid4(), 1, 2, 0.5, "public"))),
    )
    assert EventRun(event, []).staged() == [
        (event.id, event.partition_key(), event.model_dump_json())
    ]


def test_new_ids_are_distinct_random_version_4_uuids_in_canonical_text() -> None:
    ids = new_ids(5_000)
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert CANONICAL_V4.match(text), text
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert new_ids(0) == []

"""Runs of events (ADR 0099, 0102): each document is the event a model would have written."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from podium_contracts.events import JoinRequested, RankChanged, RankChangedData, parse_event
from podium_runtime.context import causation_id_var, correlation_id_var
from podium_runtime.outbox import (
    RUN_LINE_EVENTS,
    EventRun,
    new_event,
    new_event_run,
    new_ids,
    row_payloads,
)

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


def _run(board: uuid.UUID, changes: list[tuple], split: str = "public") -> EventRun | None:
    """A run of rank changes on one board, as competitions builds it."""
    return new_event_run(
        RankChanged,
        "competitions",
        {"competition_id": str(board), "split": split, "period": "all"},
        {
            "user_id": [str(c[0]) for c in changes],
            "old_rank": [c[1] for c in changes],
            "new_rank": [c[2] for c in changes],
            "score": [c[3] for c in changes],
        },
    )


def _documents(staged: list[tuple[object, str, str]]) -> list[str]:
    """The documents the relay publishes for staged lines, as one row would hold them."""
    return row_payloads("\n".join(line for _, _, line in staged))


@given(board=st.uuids(), changes=changes, split=st.sampled_from(["public", "private"]))
def test_each_document_of_a_run_is_the_json_of_the_event_it_stands_for(
    board: uuid.UUID, changes: list[tuple], split: str
) -> None:
    run = _run(board, changes, split)
    assert run is not None
    documents = _documents(run.staged())
    assert len(documents) == len(changes)
    ids = []
    for document, change in zip(documents, changes, strict=True):
        event = parse_event(document)
        # What a model built from the same values writes, byte for byte.
        expected = RankChanged(
            id=event.id,
            occurred_at=run.first.occurred_at,
            producer="competitions",
            correlation_id=run.first.correlation_id,
            causation_id=run.first.causation_id,
            data=RankChangedData.model_validate(_data(board, (*change[:4], split))),
        )
        assert document == expected.model_dump_json()
        assert event == expected
        ids.append(event.id)
    assert ids[0] == run.first.id
    assert len(set(ids)) == len(ids)


def test_a_run_shares_the_context_of_the_unit_of_work_that_built_it() -> None:
    board = uuid.uuid4()
    correlation, causation = correlation_id_var.set("req-7"), causation_id_var.set("evt-3")
    try:
        run = _run(board, [(uuid.uuid4(), 1, 2, 0.5)] * 3)
    finally:
        correlation_id_var.reset(correlation)
        causation_id_var.reset(causation)
    assert run is not None
    events = [parse_event(document) for document in _documents(run.staged())]
    assert {(e.correlation_id, e.causation_id, e.occurred_at) for e in events} == {
        ("req-7", "evt-3", run.first.occurred_at)
    }


def test_the_others_of_a_run_are_stored_as_one_compact_line_of_their_own_values() -> None:
    """ADR 0102: a run line holds the envelope once and each event's own values only."""
    board = uuid.uuid4()
    run = _run(board, [(uuid.uuid4(), rank, rank + 1, 0.25) for rank in range(1, 151)])
    assert run is not None
    (first_id, first_key, _), (line_id, line_key, line) = run.staged()
    assert (first_id, first_key) == (run.first.id, str(board))
    assert (line_id, line_key) == (run.ids[0], str(board))
    assert line.startswith("[") and "\n" not in line
    documents = row_payloads(line)
    assert len(documents) == 149
    # Far smaller than the documents it stands for, which repeat the envelope and names.
    assert len(line) * 3 < sum(len(d) for d in documents)


def test_a_run_line_longer_than_the_limit_is_cut_and_every_event_kept_in_order() -> None:
    board = uuid.uuid4()
    run = _run(board, [(uuid.uuid4(), rank, rank + 1, rank / 7) for rank in range(1, 401)])
    assert run is not None
    staged = run.staged(max_bytes=4_000)
    lines = [line for _, _, line in staged[1:]]
    assert len(lines) > 1
    assert all(len(line.encode()) <= 4_000 for line in lines)
    # Each line is named by its first event's id.
    assert [event_id for event_id, _, _ in staged[1:]] == [
        json.loads(row_payloads(line)[0])["id"] for line in lines
    ]
    ranks = [json.loads(d)["data"]["old_rank"] for d in _documents(staged)]
    assert ranks == list(range(1, 401))


def test_a_run_line_holds_at_most_its_share_of_events() -> None:
    board = uuid.uuid4()
    count = RUN_LINE_EVENTS * 2 + 7
    run = _run(board, [(uuid.uuid4(), rank, rank + 1, None) for rank in range(1, count + 1)])
    assert run is not None
    lines = [line for _, _, line in run.staged()[1:]]
    assert all(len(row_payloads(line)) <= RUN_LINE_EVENTS for line in lines)
    assert sum(len(row_payloads(line)) for line in lines) == count - 1


def test_an_event_too_long_for_a_line_of_its_own_is_staged_as_its_document() -> None:
    """`Outbox.add` then refuses it by its size, as any event over the limit."""
    run = new_event_run(
        JoinRequested,
        "probe",
        {"competition_id": str(uuid.uuid4())},
        {
            "request_id": [str(uuid.uuid4()) for _ in range(3)],
            "user_id": [str(uuid.uuid4()) for _ in range(3)],
            "invite_code": [None, "x" * 1000, None],
        },
    )
    assert run is not None
    staged = run.staged(max_bytes=1_000)
    # The first event, the long one as its document, the last one as a line.
    assert [line[0] for _, _, line in staged] == ["{", "{", "["]
    assert json.loads(staged[1][2])["data"]["invite_code"] == "x" * 1000
    assert staged[1][0] == run.ids[0]


def test_events_of_a_run_keyed_by_a_column_go_in_one_line_per_run_of_one_key() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    boards = [first, first, second, second, first]
    run = new_event_run(
        JoinRequested,
        "probe",
        {"invite_code": None},
        {
            "request_id": [str(uuid.uuid4()) for _ in boards],
            "competition_id": [str(b) for b in boards],
            "user_id": [str(uuid.uuid4()) for _ in boards],
        },
    )
    assert run is not None
    staged = run.staged()
    assert [key for _, key, _ in staged] == [str(first), str(first), str(second), str(first)]
    for _, key, line in staged:
        assert {json.loads(d)["data"]["competition_id"] for d in row_payloads(line)} == {key}


def test_no_events_make_no_run() -> None:
    assert _run(uuid.uuid4(), []) is None


def test_the_first_event_of_a_run_is_validated() -> None:
    with pytest.raises(ValueError, match="old_rank"):
        new_event_run(
            RankChanged,
            "competitions",
            {"competition_id": str(uuid.uuid4()), "split": "public", "period": "all"},
            {
                "user_id": [str(uuid.uuid4())],
                "old_rank": ["first"],
                "new_rank": [1],
                "score": [1.0],
            },
        )


@pytest.mark.parametrize(
    ("shared", "columns"),
    [
        ({"split": "public", "period": "all"}, {"user_id": [], "old_rank": []}),
        (
            {"competition_id": "x", "split": "public", "period": "all", "score": 1.0},
            {"user_id": ["u"], "old_rank": [1], "new_rank": [2], "score": [1.0]},
        ),
    ],
)
def test_a_run_names_each_data_field_once(shared: dict, columns: dict) -> None:
    with pytest.raises(ValueError, match="each of its data fields once"):
        new_event_run(RankChanged, "competitions", shared, columns)


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per event"):
        new_event_run(
            RankChanged,
            "competitions",
            {"competition_id": str(uuid.uuid4()), "split": "public", "period": "all"},
            {"user_id": ["a", "b"], "old_rank": [1], "new_rank": [2, 3], "score": [1.0, 2.0]},
        )


def test_a_run_of_one_event_is_that_event() -> None:
    event = new_event(
        RankChanged,
        "competitions",
        RankChangedData.model_validate(_data(uuid.uuid4(), (uuid.uuid4(), 1, 2, 0.5, "public"))),
    )
    assert EventRun(event, [], {}, {}).staged() == [
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

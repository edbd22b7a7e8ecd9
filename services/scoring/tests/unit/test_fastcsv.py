"""The pyarrow fast path reads every file exactly as the csv module path does, or declines."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from podium_scoring import fastcsv
from podium_scoring.domain import parse_answer_key
from podium_scoring.metrics import get_metric
from podium_scoring.validation import FileInvalidError, Table, read_table, validate_submission

MAX = 10**7


def _read(data: bytes) -> tuple[Table | None, list[str]]:
    try:
        return read_table(data, max_bytes=MAX), []
    except FileInvalidError as exc:
        return None, [f"{e.code}: {e.message}" for e in exc.errors]


def _same_as_csv_module(data: bytes) -> Table | None:
    fast, fast_errors = _read(data)
    with mock.patch.object(fastcsv, "read_columns", return_value=None):
        slow, slow_errors = _read(data)
    assert fast_errors == slow_errors
    if fast is None or slow is None:
        assert fast is slow
        return None
    assert fast.header == slow.header
    assert fast.lines.tolist() == slow.lines.tolist()
    assert [e.as_dict() for e in fast.errors] == [e.as_dict() for e in slow.errors]
    for index in range(len(fast.header)):
        assert fast.column(index) == slow.column(index)
        np.testing.assert_array_equal(fast.numbers(index), slow.numbers(index))
    return fast


@pytest.mark.parametrize(
    ("data", "fast"),
    [
        (b"id,target\na,0.5\nb,1\n", True),
        (b'\xef\xbb\xbfId, Target\r\n"a", "0.5"\r\n"b","1"\r\n', False),
        (b'\xef\xbb\xbfId, Target\r\n"a","0.5"\r\n" b ","1e-3"\r\n', True),
        (b"id,target\na,0.5\n\nb,1\n", False),
        (b"id,target\na,0.5\nb,1\n\n", False),
        (b"id,target\na,0.5\r\nb,1\r\n\r\n", False),
        (b'id,target\n"a""x",0.5\nb,1\n', False),
        (b'id,target\n"a"x,0.5\nb,1\n', False),
        (b'id,target\n"a\nx",0.5\nb,1\n', False),
        (b"id,target\na,0.5\nb\n", False),
        (b"id,target\na,0.5\nb,1,2\n", False),
        (b"id;target\na;0,5\nb;1\n", True),
        (b"id\ttarget\na\tnan\nb\tinf\nc\t1_0\nd\tnan(1)\ne\t\n", True),
        (b"1,2\n3,4\n5,6\n", True),
        (b"id,target\na,0.5\rb,1\r", False),
        (b"id,target\na\x1f,0.5\nb,1\n", False),
        ("id,target\nä,0.5\nb,1\n".encode(), False),
        (b"id,target\n", False),
        (b"id\na\n\nb\n", False),
    ],
)
def test_fast_path_agrees_with_csv_module(data: bytes, fast: bool) -> None:
    table = _same_as_csv_module(data)
    assert (table is not None and table.arrow is not None) == fast


@given(
    st.lists(
        st.lists(
            st.sampled_from(["a", " b", "1", "0.5 ", '"c"', '"', "", "1e5", "x,y", '""']),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["\n", "\r\n"]),
)
def test_random_files_read_the_same_both_ways(rows: list[list[str]], newline: str) -> None:
    _same_as_csv_module(newline.join(",".join(r) for r in rows).encode())


KEY = parse_answer_key(
    b"id,target\n" + b"".join(f"k{i},{i % 2}\n".encode() for i in range(8)),
    competition_id="fastcsv",
    sha256="",
    public_fraction=0.5,
    max_bytes=MAX,
)


def _validated(data: bytes) -> tuple[list[float] | None, list[dict[str, object]]]:
    try:
        valid = validate_submission(data, KEY, get_metric("log_loss"), max_bytes=MAX)
    except FileInvalidError as exc:
        return None, [e.as_dict() for e in exc.errors]
    return valid.predictions.tolist(), []


@given(
    st.lists(
        st.tuples(
            # Known ids, unknown ones, ids with spaces around them, repeats of both.
            st.sampled_from(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", " k1", "u1", "u2"]),
            st.sampled_from(["0.5", "0.25", "1", "x", "", "2"]),
        ),
        min_size=1,
        max_size=14,
    ),
    st.sampled_from(["\n", "\r\n"]),
)
def test_ids_align_with_the_key_the_same_both_ways(
    rows: list[tuple[str, str]], newline: str
) -> None:
    data = newline.join(["id,target", *(f"{i},{v}" for i, v in rows)]).encode()
    fast = _validated(data)
    with mock.patch.object(fastcsv, "read_columns", return_value=None):
        slow = _validated(data)
    assert fast == slow


def test_positions_in_matches_the_key_dict() -> None:
    table = read_table(b"id,target\nk3,1\nzz,1\nk0,0\nk3,1\nk7,0\n", max_bytes=MAX)
    assert table.arrow is not None
    ids = table.column(0)
    np.testing.assert_array_equal(
        fastcsv.positions_in(table.arrow[0], KEY.arrow_ids), KEY.positions(ids)
    )
    assert fastcsv.positions_in(table.arrow[0], KEY.arrow_ids).tolist() == [3, -1, 0, 3, 7]


def test_a_file_of_every_alignment_error_reports_the_same_both_ways() -> None:
    data = b"id,target\nk0,0.5\nk0,0.5\nu9,0.5\nu9,0.5\nu8,0.5\nk2,0.1\n"
    fast = _validated(data)
    with mock.patch.object(fastcsv, "read_columns", return_value=None):
        slow = _validated(data)
    assert fast == slow
    assert [e["code"] for e in fast[1]] == ["DUPLICATE_ID", "UNKNOWN_IDS", "MISSING_IDS"]

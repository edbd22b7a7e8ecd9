"""The shared export encoding: JSON lines as the items, CSV cells safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json

import pytest
from podium_runtime.exports import FORMULA_STARTS, csv_cell, csv_rows, encode

COLUMNS = ("rank", "display_name", "score", "errors", "team_id")

ITEMS = [
    {
        "rank": 1,
        "display_name": 'Zoë «quoted, "comma"»',
        "score": -0.25,
        "errors": [{"code": "MISSING_IDS", "count": 3}],
        "team_id": None,
    },
    {"rank": 2, "display_name": '=HYPERLINK("http://x.test","win")', "score": 1e-9, "errors": []},
]


def test_a_json_line_is_exactly_its_item() -> None:
    lines = encode(ITEMS, "jsonl", COLUMNS).decode().splitlines()
    assert [json.loads(line) for line in lines] == ITEMS
    # Every value as it is, the formula too: JSON lines are data, not a spreadsheet.
    assert json.loads(lines[1])["display_name"].startswith("=")


def test_csv_rows_have_the_columns_with_json_for_lists_and_empty_for_none() -> None:
    text = (csv_rows([COLUMNS]) + encode(ITEMS, "csv", COLUMNS)).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["rank"] for row in rows] == ["1", "2"]
    assert rows[0]["display_name"] == ITEMS[0]["display_name"]
    assert float(rows[0]["score"]) == -0.25 and float(rows[1]["score"]) == 1e-9
    assert json.loads(rows[0]["errors"]) == ITEMS[0]["errors"]
    assert rows[0]["team_id"] == "" and rows[1]["team_id"] == ""  # None and missing alike
    assert text.count("\r\n") == 3 and text.endswith("\r\n")


def test_a_line_break_inside_a_cell_stays_inside_it() -> None:
    items = [{"name": "first\rsecond"}, {"name": "one\ntwo"}, {"name": "a\r\nb"}]
    rows = list(csv.reader(io.StringIO(encode(items, "csv", ("name",)).decode(), newline="")))
    assert rows == [[item["name"]] for item in items]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_text_cell_a_spreadsheet_would_run_is_written_as_text(start: str) -> None:
    value = f"{start}1+1"
    cell = csv_cell(value)
    assert cell == "'" + value
    encoded = encode([{"name": value}], "csv", ("name",)).decode()
    (row,) = csv.reader(io.StringIO(encoded, newline=""))
    assert row == ["'" + value]


@pytest.mark.parametrize("value", ["Ada = Lovelace", "a-b", "user@example.org", "'quoted"])
def test_text_that_only_holds_those_characters_later_is_kept(value: str) -> None:
    assert csv_cell(value) == value


def test_numbers_and_booleans_are_written_as_they_are() -> None:
    assert [csv_cell(v) for v in (-3, -0.5, 0, True)] == [-3, -0.5, 0, True]

"""Submission files as users really write them: what is accepted, and every error code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from podium_scoring.domain import AnswerKey, ScoringRejectedError, parse_answer_key, score
from podium_scoring.metrics import get_metric
from podium_scoring.validation import (
    FileError,
    FileInvalidError,
    summarise_errors,
    validate_submission,
)
from sklearn.metrics import log_loss, roc_auc_score

COMPETITION = "7d3c1f5e-2a71-4d0e-9a43-0f1f6f0d2b11"
LIMIT = 1_000_000


def make_key(rows: int = 20, header: str = "id,target") -> AnswerKey:
    lines = [header] + [f"r{i},{i % 2}" for i in range(rows)]
    return parse_answer_key(
        ("\n".join(lines) + "\n").encode(),
        competition_id=COMPETITION,
        sha256="0" * 64,
        public_fraction=0.5,
        max_bytes=LIMIT,
    )


KEY = make_key()
AUC = get_metric("auc_roc")
LOG_LOSS = get_metric("log_loss")


def submission(rows: list[str], header: str = "id,target", newline: str = "\n") -> bytes:
    return (newline.join([header, *rows]) + newline).encode()


def good_rows() -> list[str]:
    return [f"r{i},{0.1 + 0.8 * (i % 2) - 0.01 * i / 20:.4f}" for i in range(20)]


def errors_of(data: bytes, metric_name: str = "log_loss") -> list[FileError]:
    with pytest.raises(FileInvalidError) as info:
        validate_submission(data, KEY, get_metric(metric_name), max_bytes=LIMIT)
    return info.value.errors


def one(errors: list[FileError], code: str) -> FileError:
    found = [e for e in errors if e.code == code]
    assert len(found) == 1, errors
    return found[0]


# --- accepted -----------------------------------------------------------------------


def _scores_like_sklearn(data: bytes) -> None:
    result = validate_submission(data, KEY, LOG_LOSS, max_bytes=LIMIT)
    expected = np.array([float(r.split(",")[1]) for r in good_rows()])
    np.testing.assert_array_equal(result.predictions, expected)
    scores = score(KEY, LOG_LOSS, result.predictions)
    pub = KEY.public
    assert math.isclose(
        scores.public, log_loss(KEY.targets[pub], y_proba=expected[pub], labels=[0, 1])
    )


def test_plain_file_is_accepted_and_scored() -> None:
    _scores_like_sklearn(submission(good_rows()))


def test_windows_line_endings_bom_and_spaces_in_the_header_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + submission(good_rows(), header=" Id , TARGET ", newline="\r\n")
    _scores_like_sklearn(data)


def test_quoted_numbers_and_ids_and_blank_lines_are_accepted() -> None:
    rows = [f'"{r.split(",")[0]}","{r.split(",")[1]}"' for r in good_rows()]
    rows.insert(5, "")
    _scores_like_sklearn(submission(rows, header='"id","target"') + b"\n\n")


def test_rows_in_any_order_are_accepted() -> None:
    _scores_like_sklearn(submission(list(reversed(good_rows()))))


def test_semicolon_separated_file_with_decimal_commas_is_accepted() -> None:
    rows = [r.replace(",", ";").replace(".", ",") for r in good_rows()]
    _scores_like_sklearn(submission(rows, header="id;target"))


def test_auc_accepts_scores_outside_zero_one() -> None:
    rows = [f"r{i},{(i % 2) * 5 - 2.5 + i}" for i in range(20)]
    result = validate_submission(submission(rows), KEY, AUC, max_bytes=LIMIT)
    scores = score(KEY, AUC, result.predictions)
    pub = KEY.public
    assert math.isclose(
        scores.public, roc_auc_score(KEY.targets[pub], result.predictions[pub]), rel_tol=1e-12
    )


# --- rejected, one code each ----------------------------------------------------------


def test_too_large() -> None:
    with pytest.raises(FileInvalidError) as info:
        validate_submission(submission(good_rows()), KEY, LOG_LOSS, max_bytes=50)
    assert [e.code for e in info.value.errors] == ["TOO_LARGE"]


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_file(data: bytes) -> None:
    assert [e.code for e in errors_of(data)] == ["EMPTY_FILE"]


def test_header_without_rows_is_an_empty_file() -> None:
    assert [e.code for e in errors_of(b"id,target\r\n")] == ["EMPTY_FILE"]


def test_not_csv_binary_file() -> None:
    xlsx_like = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00"
    assert [e.code for e in errors_of(xlsx_like)] == ["NOT_CSV"]


def test_not_csv_broken_quoting() -> None:
    data = b'id,target\nr0,"0.5\nr1,0.3\n'
    assert [e.code for e in errors_of(data)] == ["NOT_CSV"]


def test_not_csv_rows_with_wrong_field_count_are_reported_with_line_numbers() -> None:
    rows = good_rows()
    rows[3] = rows[3] + ",oops"
    error = one(errors_of(submission(rows)), "NOT_CSV")
    assert error.count == 1 and "line 5" in error.message


def test_missing_column() -> None:
    rows = [r.split(",")[0] for r in good_rows()]
    error = one(errors_of(submission(rows, header="id")), "MISSING_COLUMN")
    assert error.column == "target"


def test_extra_column_from_a_dataframe_index() -> None:
    rows = [f"{i},{r}" for i, r in enumerate(good_rows())]
    errors = errors_of(submission(rows, header=",id,target"))
    assert [e.code for e in errors] == ["EXTRA_COLUMN"]


def test_duplicate_id() -> None:
    rows = [*good_rows(), "r3,0.2", "r3,0.4"]
    error = one(errors_of(submission(rows)), "DUPLICATE_ID")
    assert error.rows == ("r3",) and error.count == 1


def test_missing_ids_gives_count_and_sample() -> None:
    error = one(errors_of(submission(good_rows()[:5])), "MISSING_IDS")
    assert error.count == 15
    assert set(error.rows) <= {f"r{i}" for i in range(5, 20)} and len(error.rows) == 10


def test_unknown_ids() -> None:
    rows = [*good_rows(), "zz1,0.5", "zz2,0.5"]
    error = one(errors_of(submission(rows)), "UNKNOWN_IDS")
    assert error.rows == ("zz1", "zz2") and error.count == 2


@pytest.mark.parametrize("bad", ["NaN", "nan", "inf", "-Infinity", "", "abc", "0.5.1"])
def test_not_a_number(bad: str) -> None:
    rows = good_rows()
    rows[7] = f"r7,{bad}"
    error = one(errors_of(submission(rows)), "NOT_A_NUMBER")
    assert error.rows == ("r7",) and error.column == "target" and "line 9" in error.message


def test_probability_out_of_range_for_log_loss() -> None:
    rows = good_rows()
    rows[2], rows[4] = "r2,1.2", "r4,-0.1"
    error = one(errors_of(submission(rows)), "VALUE_OUT_OF_RANGE")
    assert error.rows == ("r2", "r4") and error.count == 2


def test_every_problem_is_reported_at_once() -> None:
    rows = [*good_rows()[2:], "r5,0.3", "ghost,0.1"]
    rows[0] = "r2,NaN"
    rows[1] = "r3,7"
    codes = {e.code for e in errors_of(submission(rows))}
    assert codes == {
        "NOT_A_NUMBER",
        "VALUE_OUT_OF_RANGE",
        "DUPLICATE_ID",
        "UNKNOWN_IDS",
        "MISSING_IDS",
    }


def test_errors_serialise_to_the_event_shape() -> None:
    error = one(errors_of(submission(good_rows()[:18])), "MISSING_IDS")
    assert error.as_dict() == {
        "code": "MISSING_IDS",
        "message": error.message,
        "column": "id",
        "rows": ["r18", "r19"],
        "count": 2,
    }


# --- answer keys and the split ------------------------------------------------------


def test_split_is_deterministic_and_independent_of_row_order() -> None:
    shuffled = "\n".join(["id,target"] + [f"r{i},{i % 2}" for i in reversed(range(20))])
    other = parse_answer_key(
        shuffled.encode(),
        competition_id=COMPETITION,
        sha256="1" * 64,
        public_fraction=0.5,
        max_bytes=LIMIT,
    )
    public = set(KEY.ids[KEY.public].tolist())
    assert public == set(other.ids[other.public].tolist())
    assert 0 < len(public) < 20


def test_split_fraction_is_respected_on_a_large_key() -> None:
    lines = "\n".join(["id,target"] + [f"{i},{i % 2}" for i in range(20_000)])
    key = parse_answer_key(
        lines.encode(), competition_id=COMPETITION, sha256="", public_fraction=0.3, max_bytes=10**7
    )
    assert abs(key.public.mean() - 0.3) < 0.02


def test_split_differs_between_competitions() -> None:
    lines = "\n".join(["id,target"] + [f"{i},{i % 2}" for i in range(200)]).encode()
    a = parse_answer_key(lines, competition_id="a", sha256="", public_fraction=0.5, max_bytes=LIMIT)
    b = parse_answer_key(lines, competition_id="b", sha256="", public_fraction=0.5, max_bytes=LIMIT)
    assert (a.public != b.public).any()


def test_answer_key_with_three_columns_is_invalid() -> None:
    with pytest.raises(FileInvalidError) as info:
        parse_answer_key(
            b"id,target,extra\n1,0,x\n",
            competition_id=COMPETITION,
            sha256="",
            public_fraction=0.5,
            max_bytes=LIMIT,
        )
    assert [e.code for e in info.value.errors] == ["ANSWER_KEY_INVALID"]


def auc_refusal(targets: list[str]) -> str:
    """Score a good file by AUC against a key with these targets; return the refusal code."""
    key = parse_answer_key(
        "\n".join(["id,target"] + [f"r{i},{t}" for i, t in enumerate(targets)]).encode(),
        competition_id=COMPETITION,
        sha256="",
        public_fraction=0.5,
        max_bytes=LIMIT,
    )
    result = validate_submission(submission(good_rows()), key, AUC, max_bytes=LIMIT)
    with pytest.raises(ScoringRejectedError) as info:
        score(key, AUC, result.predictions)
    return info.value.code


def test_auc_on_a_public_part_with_one_class_is_rejected_as_undefined() -> None:
    assert auc_refusal(["1"] * 20) == "METRIC_UNDEFINED"


def test_regression_key_cannot_score_a_binary_metric() -> None:
    assert auc_refusal([f"{i * 1.5}" for i in range(20)]) == "ANSWER_KEY_INVALID"


def test_thousands_of_errors_are_summarised_past_the_first_fifty() -> None:
    extra = ",".join(f"c{n}" for n in range(6600))
    rows = [f"{r},{','.join('0' for _ in range(6600))}" for r in good_rows()]
    errors = summarise_errors(errors_of(submission(rows, header=f"id,target,{extra}")))
    assert len(errors) == 51
    assert all(e.code == "EXTRA_COLUMN" and e.count is None for e in errors[:50])
    assert errors[50].code == "EXTRA_COLUMN" and errors[50].count == 6550

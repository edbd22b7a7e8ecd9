"""Reading CSV files and checking a submission against the answer key (SPEC §7.1).

Every problem of a file is reported at once, each with a stable code:
`TOO_LARGE`, `EMPTY_FILE`, `NOT_CSV` (not UTF-8 text, binary, broken quoting,
or rows with a different number of fields than the header), `MISSING_COLUMN`,
`EXTRA_COLUMN`, `DUPLICATE_ID`, `MISSING_IDS`, `UNKNOWN_IDS`, `NOT_A_NUMBER`
(empty, text, NaN or infinite values) and `VALUE_OUT_OF_RANGE`.

A submission has the answer key's two columns, by name (the key's header is
the template participants follow, like a sample submission), rows in any order.
What users really produce is accepted: a UTF-8 byte order mark, Windows line
endings, spaces around header names and values, header names in any case,
quoted numbers, blank lines, and `;` or tab separated files (with decimal
commas after `;`, as spreadsheets in many locales write them).

`rows` of an error always holds a sample of the affected row ids; messages
name line numbers where that helps to find them. Plain files are parsed by
pyarrow's C++ reader (`fastcsv`, used only where it provably splits fields as
the csv module does); any other file by the csv module, with float conversion
via `map`. Checks are numpy operations on whole columns; on the fast path the
ids are aligned with the answer key in C++ too (`Ids`), so no Python code runs
per row at all.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from podium_contracts.codes import SubmissionErrorCode

from podium_scoring import fastcsv
from podium_scoring.metrics import FloatArray, Metric

if TYPE_CHECKING:
    from podium_scoring.domain import AnswerKey

#: How many ids or line numbers an error shows.
SAMPLE_SIZE = 10

StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True)
class FileError:
    """One problem of a file: stable code, readable message, where it is."""

    code: SubmissionErrorCode
    message: str
    column: str | None = None
    rows: tuple[str, ...] = ()
    count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the error as the JSON object the API and events carry."""
        return {
            "code": self.code,
            "message": self.message,
            "column": self.column,
            "rows": list(self.rows),
            "count": self.count,
        }


#: Most errors listed one by one; the rest are summarised by code (events stay small).
MAX_LISTED_ERRORS = 50
#: Longest message and column name an error carries (names come from the file).
MAX_MESSAGE_CHARS = 500
MAX_COLUMN_CHARS = 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarise_errors(errors: list[FileError], limit: int = MAX_LISTED_ERRORS) -> list[FileError]:
    """Return the first `limit` errors, then one error per code counting the unlisted ones.

    A file may have thousands of problems (one per extra column of a 40 KB
    header); listing them all would make an event larger than Kafka carries and
    an API answer of megabytes. The first ones show what is wrong; the counts
    say how much.
    """
    listed = [
        FileError(
            e.code,
            _clip(e.message, MAX_MESSAGE_CHARS),
            column=None if e.column is None else _clip(e.column, MAX_COLUMN_CHARS),
            rows=tuple(_clip(r, MAX_COLUMN_CHARS) for r in e.rows[:SAMPLE_SIZE]),
            count=e.count,
        )
        for e in errors[:limit]
    ]
    rest = Counter(e.code for e in errors[limit:])
    for code, count in rest.items():
        listed.append(FileError(code, f"{count} more {code} errors are not listed", count=count))
    return listed


class FileInvalidError(Exception):
    """The file cannot be scored; `errors` lists every problem found."""

    def __init__(self, errors: list[FileError]) -> None:
        super().__init__("; ".join(f"{e.code}: {e.message}"[:200] for e in errors[:5]))
        self.errors = errors


@dataclass
class Table:
    """A parsed CSV: normalised header names, data records and their line numbers.

    A file read by the fast path has `arrow` (trimmed string columns) and no
    `records`; either way `column` and `numbers` give the same values.
    """

    header: list[str]
    records: list[list[str]]
    lines: npt.NDArray[np.int64]
    delimiter: str
    errors: list[FileError] = field(default_factory=list)
    arrow: list[pa.ChunkedArray] | None = None

    def column(self, index: int) -> list[str]:
        """Return the values of column `index`, stripped of surrounding spaces."""
        if self.arrow is not None:
            values: list[str] = self.arrow[index].to_pylist()
            return values
        return [record[index].strip() for record in self.records]

    def numbers(self, index: int) -> FloatArray:
        """Return column `index` as float64; values that are not finite numbers become NaN."""
        decimal_comma = self.delimiter == ";"
        if self.arrow is not None and not decimal_comma:
            numbers = fastcsv.cast_numbers(self.arrow[index])
            if numbers is not None:
                numbers[~np.isfinite(numbers)] = np.nan
                return numbers
        return parse_numbers(self.column(index), decimal_comma=decimal_comma)


def _lines_text(lines: npt.NDArray[np.int64]) -> str:
    shown = ", ".join(str(n) for n in lines[:SAMPLE_SIZE])
    more = f" and {len(lines) - SAMPLE_SIZE} more" if len(lines) > SAMPLE_SIZE else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


def _sample(values: StrArray | list[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values[:SAMPLE_SIZE])


class Ids:
    """A submission's id column; Python strings are made only for ids an error names.

    From the fast path the column stays in Arrow and is aligned with the answer
    key in C++ (`fastcsv.positions_in`); from the csv module path it is a list
    aligned through the key's dict. Both give the same positions and ids.
    """

    def __init__(self, table: Table, index: int) -> None:
        self.arrow = table.arrow[index] if table.arrow is not None else None
        self.values = table.column(index) if self.arrow is None else None

    def at(self, indices: npt.NDArray[np.intp]) -> list[str]:
        """Return the ids at `indices`, in that order."""
        if self.arrow is not None:
            taken: list[str] = self.arrow.take(pa.array(indices, type=pa.int64())).to_pylist()
            return taken
        assert self.values is not None
        return [self.values[i] for i in indices.tolist()]

    def positions(self, key: AnswerKey) -> npt.NDArray[np.intp]:
        """Return the row in `key` of every id, or -1 for ids not in the key."""
        if self.arrow is not None:
            return fastcsv.positions_in(self.arrow, key.arrow_ids)
        assert self.values is not None
        return key.positions(self.values)


def _pick(ids: Ids | list[str] | None, indices: npt.NDArray[np.intp]) -> tuple[str, ...]:
    """Return the ids at the first few `indices`."""
    if ids is None:
        return ()
    if isinstance(ids, Ids):
        return tuple(ids.at(indices[:SAMPLE_SIZE]))
    return tuple(ids[i] for i in indices[:SAMPLE_SIZE].tolist())


def _sniff_delimiter(first_line: str) -> str:
    if "," in first_line:
        return ","
    for candidate in (";", "\t", "|"):
        if candidate in first_line:
            return candidate
    return ","


def read_table(data: bytes, *, max_bytes: int, what: str = "file") -> Table:
    """Parse CSV bytes into a `Table`; raises `FileInvalidError` when nothing can be read."""
    if len(data) > max_bytes:
        raise FileInvalidError(
            [
                FileError(
                    SubmissionErrorCode.TOO_LARGE,
                    f"the {what} has {len(data)} bytes; the limit is {max_bytes}",
                )
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileInvalidError(
            [
                FileError(
                    SubmissionErrorCode.NOT_CSV,
                    f"the {what} is not UTF-8 text (byte {exc.start} is invalid)",
                )
            ]
        ) from None
    if not text.strip():
        raise FileInvalidError([FileError(SubmissionErrorCode.EMPTY_FILE, f"the {what} is empty")])
    if "\x00" in text:
        raise FileInvalidError(
            [
                FileError(
                    SubmissionErrorCode.NOT_CSV,
                    f"the {what} contains NUL bytes; it looks binary, not CSV",
                )
            ]
        )
    delimiter = _sniff_delimiter(text.lstrip().split("\n", 1)[0])
    fast = fastcsv.read_columns(data[3:] if data.startswith(codecs.BOM_UTF8) else data, delimiter)
    if fast is not None:
        names, columns = fast
        return Table(
            header=[name.strip().lower() for name in names],
            records=[],
            lines=np.arange(2, len(columns[0]) + 2, dtype=np.int64),
            delimiter=delimiter,
            arrow=columns,
        )
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise FileInvalidError(
            [FileError(SubmissionErrorCode.NOT_CSV, f"the {what} is not valid CSV: {exc}")]
        ) from None
    # Blank lines (often a trailing one) carry no data; only 0/1-field records can be blank.
    widths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    keep = widths > 1
    for i in np.flatnonzero(~keep).tolist():
        keep[i] = bool(records[i]) and bool(records[i][0].strip())
    kept = np.flatnonzero(keep)
    if not kept.size:
        raise FileInvalidError([FileError(SubmissionErrorCode.EMPTY_FILE, f"the {what} is empty")])
    header = [name.strip().lower() for name in records[kept[0]]]
    lines = kept[1:] + 1
    body = (
        records[kept[0] + 1 :]
        if kept.size == len(records) - kept[0]
        else [records[i] for i in kept[1:].tolist()]
    )
    widths = widths[kept[1:]]
    if not body:
        raise FileInvalidError(
            [FileError(SubmissionErrorCode.EMPTY_FILE, f"the {what} has a header but no data rows")]
        )
    table = Table(header=header, records=body, lines=lines, delimiter=delimiter)
    ragged = np.flatnonzero(widths != len(header))
    if ragged.size:
        table.errors.append(
            FileError(
                SubmissionErrorCode.NOT_CSV,
                f"{ragged.size} row(s) do not have the header's {len(header)} fields "
                f"({_lines_text(lines[ragged])})",
                count=int(ragged.size),
            )
        )
        # Pad or cut broken rows so the column checks still run on the rest.
        for i in ragged.tolist():
            row = body[i]
            body[i] = (row + [""] * len(header))[: len(header)]
    return table


def parse_numbers(values: list[str], decimal_comma: bool = False) -> FloatArray:
    """Convert strings to float64; values that are not finite numbers become NaN."""
    if decimal_comma:
        values = [v.replace(",", ".") for v in values]
    try:
        numbers = np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    except ValueError:
        # Slow path only for files that contain text: find every bad value.
        numbers = np.fromiter(map(_float_or_nan, values), dtype=np.float64, count=len(values))
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers


def _float_or_nan(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def check_columns(table: Table, expected: list[str]) -> tuple[list[FileError], dict[str, int]]:
    """Compare the header with the expected column names; return errors and found positions."""
    errors: list[FileError] = []
    positions: dict[str, int] = {}
    for index, name in enumerate(table.header):
        if name in expected and name not in positions:
            positions[name] = index
        else:
            label = name or f"(unnamed column {index + 1})"
            errors.append(
                FileError(
                    SubmissionErrorCode.EXTRA_COLUMN,
                    f"column '{label}' is not expected; the file must have exactly the "
                    f"columns {', '.join(expected)}",
                    column=name,
                )
            )
    for name in expected:
        if name not in positions:
            errors.append(
                FileError(
                    SubmissionErrorCode.MISSING_COLUMN, f"column '{name}' is missing", column=name
                )
            )
    return errors, positions


def check_numbers(
    table: Table, column: str, numbers: FloatArray, ids: Ids | list[str] | None
) -> list[FileError]:
    """Report values of `column` that are not finite numbers."""
    bad = np.flatnonzero(np.isnan(numbers))
    if not bad.size:
        return []
    return [
        FileError(
            SubmissionErrorCode.NOT_A_NUMBER,
            f"{bad.size} value(s) in column '{column}' are not finite numbers "
            f"(empty, text, NaN or infinite) on {_lines_text(table.lines[bad])}",
            column=column,
            rows=_pick(ids, bad),
            count=int(bad.size),
        )
    ]


def check_range(
    table: Table,
    column: str,
    numbers: FloatArray,
    ids: Ids | list[str] | None,
    allowed: tuple[float, float] | None,
    reason: str,
) -> list[FileError]:
    """Report finite values of `column` outside the closed range `allowed`."""
    if allowed is None:
        return []
    low, high = allowed
    bad = np.flatnonzero((numbers < low) | (numbers > high))  # NaN compares False
    if not bad.size:
        return []
    return [
        FileError(
            SubmissionErrorCode.VALUE_OUT_OF_RANGE,
            f"{bad.size} value(s) in column '{column}' are outside [{low:g}, {high:g}] "
            f"({reason}) on {_lines_text(table.lines[bad])}",
            column=column,
            rows=_pick(ids, bad),
            count=int(bad.size),
        )
    ]


def check_duplicates(column: str, ids: list[str]) -> list[FileError]:
    """Report ids that occur on more than one row."""
    if len(set(ids)) == len(ids):
        return []
    unique, counts = np.unique(np.asarray(ids, dtype=np.str_), return_counts=True)
    return [_duplicates_error(column, unique[counts > 1].tolist(), counts[counts > 1])]


def _duplicates_error(column: str, repeated: list[str], counts: npt.NDArray[np.int64]) -> FileError:
    """Describe repeated ids: `repeated` holds at least a sample, `counts` one count per id."""
    extra = int((counts - 1).sum())
    return FileError(
        SubmissionErrorCode.DUPLICATE_ID,
        f"{counts.size} id(s) occur more than once ({extra} extra row(s)), "
        f"e.g. {', '.join(_sample(repeated))}",
        column=column,
        rows=_sample(repeated),
        count=int(counts.size),
    )


@dataclass(frozen=True)
class Submission:
    """A valid submission: predictions in the answer key's row order."""

    predictions: FloatArray


def validate_submission(
    data: bytes, key: AnswerKey, metric: Metric, *, max_bytes: int
) -> Submission:
    """Check a submission file against `key` and `metric`; raises `FileInvalidError`."""
    table = read_table(data, max_bytes=max_bytes)
    errors = list(table.errors)
    column_errors, positions = check_columns(table, [key.id_column, key.target_column])
    errors += column_errors
    ids: Ids | None = None
    if key.id_column in positions:
        ids = Ids(table, positions[key.id_column])
    numbers: FloatArray | None = None
    if key.target_column in positions:
        numbers = table.numbers(positions[key.target_column])
        errors += check_numbers(table, key.target_column, numbers, ids)
        errors += check_range(
            table,
            key.target_column,
            numbers,
            ids,
            metric.prediction_range,
            f"{metric.name} takes probabilities",
        )
    aligned: FloatArray | None = None
    if ids is not None:
        positions_in_key = ids.positions(key)
        known = positions_in_key >= 0
        # Known ids: count per key row (integers, no string sorting); unknown: a Counter.
        seen = np.bincount(positions_in_key[known], minlength=key.size)
        repeated_rows = np.flatnonzero(seen > 1)
        repeated = [str(v) for v in key.ids[repeated_rows[:SAMPLE_SIZE]]]
        repeat_counts = seen[repeated_rows]
        unknown = np.flatnonzero(~known)
        if unknown.size:
            unknown_counts = Counter(ids.at(unknown))
            doubled = [(k, c) for k, c in unknown_counts.items() if c > 1]
            repeated += [k for k, _ in doubled]
            repeat_counts = np.append(repeat_counts, [c for _, c in doubled])
        if repeat_counts.size:
            errors.append(_duplicates_error(key.id_column, repeated, repeat_counts))
        if unknown.size:
            errors.append(
                FileError(
                    SubmissionErrorCode.UNKNOWN_IDS,
                    f"{unknown.size} id(s) are not in the answer key, e.g. "
                    f"{', '.join(_pick(ids, unknown))} ({_lines_text(table.lines[unknown])})",
                    column=key.id_column,
                    rows=_pick(ids, unknown),
                    count=int(unknown.size),
                )
            )
        missing = np.flatnonzero(seen == 0)
        if missing.size:
            errors.append(
                FileError(
                    SubmissionErrorCode.MISSING_IDS,
                    f"{missing.size} of the answer key's {key.size} ids have no prediction, "
                    f"e.g. {', '.join(_sample(key.ids[missing]))}",
                    column=key.id_column,
                    rows=_sample(key.ids[missing]),
                    count=int(missing.size),
                )
            )
        if numbers is not None:
            aligned = np.full(key.size, np.nan)
            aligned[positions_in_key[known]] = numbers[known]
    if errors:
        raise FileInvalidError(errors)
    assert aligned is not None
    return Submission(predictions=aligned)

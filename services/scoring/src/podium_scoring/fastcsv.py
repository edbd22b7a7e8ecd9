"""A compiled fast path for reading plain CSV files with pyarrow (SPEC §7.1).

`read_table` in `validation` parses with the csv module, which builds a Python
list per row; for a 100,000-row file that alone takes most of the scoring time.
pyarrow's reader parses in C++ into string columns. It is used only when a
cheap check over the raw bytes proves that both readers must produce the same
fields, so every validation error, message and line number stays the one the
csv module path gives:

- the file is ASCII and has no bytes 0x1c-0x1f (so trimming with
  `ascii_trim_whitespace` equals `str.strip`);
- every carriage return ends a line (`\\r\\n`), no line is blank, the file
  does not start with a space or a line break;
- quoted fields are simple: a quote opens right after a delimiter or a line
  start, closes right before a delimiter or a line end, on the same line, with
  no escaped quotes inside (so neither strict-mode errors nor multi-line
  records can occur);
- no line is longer than the csv module's field size limit;
- pyarrow itself reads every row with the header's width (no blank lines, no
  ragged rows), and there are at least two columns and one data row.

Anything else returns None and the csv module path handles the file, with all
its error reporting. Values are trimmed in C++; a numeric column is cast in
C++ too, falling back to Python's `float` per value only when some value is
not a number.
"""

from __future__ import annotations

import csv

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

#: Byte values the checks look at.
_QUOTE, _LF, _CR = 0x22, 0x0A, 0x0D
_LEADING_BLANK = (0x20, 0x09, _LF, _CR)


def _quotes_are_simple(
    raw: npt.NDArray[np.uint8], delimiter: int, newlines: npt.NDArray[np.intp]
) -> bool:
    """Return whether every quoted field is `"..."` between separators on one line."""
    quotes = np.flatnonzero(raw == _QUOTE)
    if not quotes.size:
        return True
    if quotes.size % 2:
        return False
    opens, closes = quotes[0::2], quotes[1::2]
    before = raw[np.maximum(opens - 1, 0)]
    opens_ok = (opens == 0) | (before == delimiter) | (before == _LF)
    after = raw[np.minimum(closes + 1, raw.size - 1)]
    closes_ok = (closes == raw.size - 1) | (after == delimiter) | (after == _LF) | (after == _CR)
    same_line = np.searchsorted(newlines, opens) == np.searchsorted(newlines, closes)
    return bool(opens_ok.all() and closes_ok.all() and same_line.all())


def _plain(raw: npt.NDArray[np.uint8], delimiter: int) -> bool:
    """Return whether both readers provably split `raw` into the same fields."""
    if not raw.size or raw[0] in _LEADING_BLANK:
        return False
    if raw.max() >= 0x80 or ((raw >= 0x1C) & (raw <= 0x1F)).any():
        return False
    carriage = np.flatnonzero(raw == _CR)
    if carriage.size and (carriage[-1] == raw.size - 1 or (raw[carriage + 1] != _LF).any()):
        return False
    newlines = np.flatnonzero(raw == _LF)
    # A blank line: a line feed right after another one, or after a `\r` right after one.
    previous = raw[np.maximum(newlines - 1, 0)]
    second = raw[np.maximum(newlines - 2, 0)]
    if ((previous == _LF) | ((previous == _CR) & (second == _LF))).any():
        return False
    bounds = np.concatenate(([-1], newlines, [raw.size]))
    if int(np.diff(bounds).max()) >= csv.field_size_limit():
        return False
    return _quotes_are_simple(raw, delimiter, newlines)


def read_columns(body: bytes, delimiter: str) -> tuple[list[str], list[pa.ChunkedArray]] | None:
    """Return the raw header names and the trimmed string columns, or None to use the csv module.

    `body` is the file without its byte order mark; `delimiter` the sniffed one.
    """
    raw = np.frombuffer(body, dtype=np.uint8)
    if not _plain(raw, ord(delimiter)):
        return None
    # Every column is read as text (no type inference): the header row is data here.
    end = body.find(b"\n")
    width = body[: end if end >= 0 else len(body)].count(delimiter.encode()) + 1
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=False
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(width)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
                true_values=[],
                false_values=[],
                auto_dict_encode=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_columns < 2 or table.num_rows < 2:
        return None
    columns = []
    header = []
    for column in table.columns:
        header.append(str(column[0].as_py()))
        columns.append(pc.ascii_trim_whitespace(column.slice(1)))
    return header, columns


def cast_numbers(column: pa.ChunkedArray) -> npt.NDArray[np.float64] | None:
    """Cast a trimmed string column to float64, or return None when some value is not a number."""
    try:
        numbers = pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        return None
    return np.array(numbers.to_numpy(), dtype=np.float64)


def positions_in(column: pa.ChunkedArray, key_ids: pa.Array) -> npt.NDArray[np.intp]:
    """Return the row in `key_ids` of every value of `column`, or -1 where it is absent.

    One hash lookup per value in C++ (`pyarrow.compute.index_in`), the same exact
    string equality as a dict of the key's ids, without making Python strings.
    `key_ids` holds no duplicates (the answer key is refused otherwise).
    """
    found = pc.index_in(column, value_set=key_ids)
    return np.asarray(found.fill_null(-1).to_numpy(), dtype=np.intp)

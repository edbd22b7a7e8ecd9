"""Streamed exports as JSON Lines or CSV, encoded a chunk at a time (SPEC §10.2, ADR 0105).

One encoding for every export (boards, submissions, the audit log). A JSON line is
exactly the API's item, compact. A CSV row has the same fields as columns: lists and
objects as JSON, None as an empty field, lines ending in CRLF. A text cell that a
spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a
carriage return) is written after an apostrophe, so a participant named
`=HYPERLINK(...)` reaches the sponsor's spreadsheet as text; the JSON lines carry
every value as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Literal

from fastapi.responses import StreamingResponse
from pydantic_core import to_json

Format = Literal["csv", "jsonl"]

MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

#: What a spreadsheet takes for the start of a formula in a text cell (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Return a field's CSV cell: None empty, lists and objects as JSON, formulas as text."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return to_json(value).decode()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """Encode rows of cells (already `csv_cell`s or column names) as CSV lines.

    Lines end in CRLF (RFC 4180): the writer then quotes every cell that holds a
    carriage return or a line feed, which a reader would otherwise take for a row's end.
    """
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def encode(rows: Iterable[Mapping[str, Any]], fmt: Format, columns: Sequence[str]) -> bytes:
    """Encode a chunk of items as JSON lines, or as CSV rows of `columns` (no header)."""
    if fmt == "jsonl":
        return b"".join(to_json(row) + b"\n" for row in rows)
    return csv_rows([csv_cell(row.get(column)) for column in columns] for row in rows)


def download(body: AsyncIterator[bytes], fmt: Format, name: str) -> StreamingResponse:
    """Return `body` streamed as the attachment `name`.`fmt`, never stored by a cache."""
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "Cache-Control": "private, no-store",
        },
    )

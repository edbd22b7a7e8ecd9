"""Streamed export encodings shared by the board and submission exports (SPEC §10.2).

A JSON line is exactly an item of the API's pages; CSV has the same fields as
columns (lists and objects as JSON). Encoded a chunk at a time, never whole.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from fastapi.responses import StreamingResponse

Format = Literal["csv", "jsonl"]
#: Board entries read from Redis per step of an export.
CHUNK = 1000

BOARD_COLUMNS = (
    "rank",
    "user_id",
    "display_name",
    "score",
    "submissions",
    "last_submission_at",
    "team_id",
)
SUBMISSION_COLUMNS = (
    "id",
    "team_id",
    "user_id",
    "submitted_at",
    "status",
    "metric",
    "public_score",
    "private_score",
    "scored_at",
    "errors",
)

_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def csv_line(values: Iterable[Any]) -> bytes:
    """Encode one CSV row (None as an empty field)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow("" if v is None else v for v in values)
    return out.getvalue().encode()


def encode(rows: list[dict[str, Any]], fmt: Format, columns: tuple[str, ...]) -> bytes:
    """Encode a chunk of API items as JSON lines or CSV rows (no header)."""
    if fmt == "jsonl":
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    encoded = []
    for row in rows:
        values = [
            json.dumps(row.get(c)) if isinstance(row.get(c), list | dict) else row.get(c)
            for c in columns
        ]
        encoded.append(csv_line(values))
    return b"".join(encoded)


def download(body: AsyncIterator[bytes], fmt: Format, name: str) -> StreamingResponse:
    """Return a streamed attachment of an export."""
    return StreamingResponse(
        body,
        media_type=_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "Cache-Control": "private, no-store",
        },
    )

"""Encoding a 100,000-line board export, JSON Lines and CSV (ADR 0105).

Encodes the lines of a 100,000-entry board in chunks of 1,000, as the gateway's
export streams them (`podium_runtime.exports.encode`), and the same rows the plainest
way with the standard library in the same run: `json.dumps` per row, and a
`csv.writer` over the chunk with every cell written as it is (no formula guard).
Prints the CPU time of each (best of five) and their ratio.

Usage: python bench/bench_exports.py
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from podium_runtime.exports import encode

ROWS = 100_000
CHUNK = 1000
COLUMNS = ("rank", "user_id", "display_name", "score", "submissions", "last_submission_at")


def board(rows: int) -> list[dict[str, Any]]:
    """Return `rows` board lines as the API's items."""
    rng = random.Random(5)
    return [
        {
            "rank": i + 1,
            "user_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "display_name": f"Participant {i}",
            "score": rng.random(),
            "submissions": rng.randint(1, 20),
            "last_submission_at": "2026-03-01T12:00:00.123456Z",
        }
        for i in range(rows)
    ]


def stdlib(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str]) -> bytes:
    """The baseline: the standard library's encoders, plainly."""
    if fmt == "jsonl":
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    out = io.StringIO()
    csv.writer(out).writerows([row.get(column) for column in columns] for row in rows)
    return out.getvalue().encode()


def best_cpu_seconds(encoder: Callable[..., bytes], rows: list[dict[str, Any]], fmt: str) -> float:
    """Return the best CPU time of five encodings of `rows` in chunks."""
    times = []
    for _ in range(5):
        started = time.process_time()
        for first in range(0, len(rows), CHUNK):
            encoder(rows[first : first + CHUNK], fmt, COLUMNS)
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    """Print the table."""
    rows = board(ROWS)
    print(f"encoding a {ROWS:,}-line board export, chunks of {CHUNK:,} (CPU, best of 5)")
    print(f"{'format':<8}{'exports ms':>12}{'stdlib ms':>12}{'stdlib / exports':>18}")
    for fmt in ("jsonl", "csv"):
        ours, theirs = best_cpu_seconds(encode, rows, fmt), best_cpu_seconds(stdlib, rows, fmt)
        print(f"{fmt:<8}{ours * 1000:>12.0f}{theirs * 1000:>12.0f}{theirs / ours:>18.2f}")


if __name__ == "__main__":
    main()

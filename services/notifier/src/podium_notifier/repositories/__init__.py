"""All SQL of the notifier (STYLE 2), one module per aggregate; shared bulk-insert chunking."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

#: Most rows one multi-row INSERT carries (well under the driver's 32767 parameters).
CHUNK = 1000


def chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    """Split bulk rows into statements of at most `CHUNK` rows."""
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]

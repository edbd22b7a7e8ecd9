"""The columns of the gateway's streamed exports (SPEC §10.2), and how their routes describe them.

The encoding itself, JSON lines and CSV, is the runtime's (`podium_runtime.exports`),
shared with identity's audit export.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E", bound=Callable[..., Any])

#: How every export writes its cells, in the description of each export route (ADR 0105).
CELLS_NOTE = (
    "JSON lines are the items exactly; in CSV, lists and objects are JSON and a text\n"
    "cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written after an\n"
    "apostrophe, so a spreadsheet shows it as text (ADR 0105)."
)


def tells_cells(endpoint: E) -> E:
    """Add `CELLS_NOTE` to an export route's docstring, which FastAPI makes its description."""
    endpoint.__doc__ = f"{inspect.cleandoc(endpoint.__doc__ or '')}\n\n{CELLS_NOTE}"
    return endpoint


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

"""The columns of the gateway's streamed exports (SPEC §10.2).

The encoding itself, JSON lines and CSV, is the runtime's (`podium_runtime.exports`),
shared with identity's audit export.
"""

from __future__ import annotations

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

"""Competition windows the suites create: open now, for a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def running_window(days: int = 3) -> dict[str, str]:
    """`starts_at` an hour ago and `ends_at` `days` from now, as ISO 8601 strings."""
    now = datetime.now(UTC)
    return {
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=days)).isoformat(),
    }

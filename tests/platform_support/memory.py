"""The peak resident memory of this test process, which runs every service (Linux `/proc`).

Streaming suites (uploads, downloads, exports) bound what one request may add to it.
"""

from __future__ import annotations

import re
from pathlib import Path


def peak_kib() -> int:
    """Return this process's peak resident memory (VmHWM) in KiB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def reset_peak() -> None:
    """Reset the peak to the current resident memory (Linux `clear_refs` 5)."""
    Path("/proc/self/clear_refs").write_text("5")

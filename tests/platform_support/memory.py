"""How much one request grows the Python heap of this test process, which runs every service.

Streaming suites (uploads, downloads, exports) bound what one request may add. The
measure is `tracemalloc`'s peak over the block: every byte string a request buffers
is counted, while what other services' native libraries map meanwhile (a CSV
reader's memory pool, a new thread's stack) is not, so a busy machine does not
turn someone else's allocation into this request's growth.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Growth:
    """The peak growth of the Python heap over a block, in KiB (set when the block ends)."""

    kib: int = 0
    #: The largest allocation sites still holding memory when the block ended, for the
    #: failure message: what a request kept is named, not only measured.
    holders: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.kib} KiB (still held at the end: {'; '.join(self.holders) or 'nothing'})"


@contextmanager
def heap_growth() -> Iterator[Growth]:
    """Trace allocations while the block runs; yield a `Growth` filled in when it ends."""
    growth = Growth()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        yield growth
        _, peak = tracemalloc.get_traced_memory()
        growth.kib = (peak - before) // 1024
        top = tracemalloc.take_snapshot().statistics("lineno")[:5]
        growth.holders = [f"{s.traceback[0]} {s.size // 1024} KiB" for s in top]
    finally:
        tracemalloc.stop()

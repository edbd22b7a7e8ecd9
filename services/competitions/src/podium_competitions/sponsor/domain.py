"""Pure statistics of a competition's board (SPEC §5.2 stats); no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Buckets of the score histogram.
BUCKETS = 10


@dataclass(frozen=True)
class Bucket:
    """Scores in `[low, high)`; the last bucket also holds `high`."""

    low: float
    high: float
    count: int


def histogram(scores: Sequence[float], buckets: int = BUCKETS) -> list[Bucket]:
    """Return `buckets` equal-width buckets from the lowest to the highest score.

    No score gives no bucket; equal scores give one bucket holding them all.
    """
    finite = [s for s in scores if math.isfinite(s)]
    if not finite:
        return []
    low, high = min(finite), max(finite)
    if low == high:
        return [Bucket(low, high, len(finite))]
    width = (high - low) / buckets
    counts = [0] * buckets
    for score in finite:
        counts[min(int((score - low) / width), buckets - 1)] += 1
    return [
        Bucket(low + i * width, high if i == buckets - 1 else low + (i + 1) * width, counts[i])
        for i in range(buckets)
    ]

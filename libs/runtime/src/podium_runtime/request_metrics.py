"""The request counter and latency histogram, recorded with plain arithmetic (SPEC §5.7).

`prometheus_client`'s `Counter` and `Histogram` take a lock per increment and
walk the buckets in Python on every observation: about 3 µs of every request's
CPU, paid by every route of every service. `RequestMetrics` keeps the same two
series in plain lists, one list per label set found once in a dictionary, and
builds the exposition's samples only when scraped: the same names, labels,
buckets, `_count`, `_sum` and `_created` samples the two classes produce
(`tests/unit/test_request_metrics.py` compares them).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

#: The histogram's upper bounds: `prometheus_client`'s defaults, `+Inf` last.
BUCKETS: tuple[float, ...] = tuple(Histogram.DEFAULT_BUCKETS)
_LE: tuple[str, ...] = tuple(floatToGoString(bound) for bound in BUCKETS)  # type: ignore[no-untyped-call]


class _Latency:
    """One (method, route)'s histogram: counts per bucket, then the sum, and when it began."""

    __slots__ = ("counts", "created")

    def __init__(self) -> None:
        self.counts = [0.0] * (len(BUCKETS) + 1)
        self.created = time.time()


class RequestMetrics(Collector):
    """Requests by (method, route, status) and their latency by (method, route)."""

    def __init__(
        self,
        counter: str,
        counter_help: str,
        histogram: str,
        histogram_help: str,
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self._counter = counter.removesuffix("_total")
        self._counter_help = counter_help
        self._histogram = histogram
        self._histogram_help = histogram_help
        # (method, route, status) -> ([count], created, that (method, route)'s latency).
        self._series: dict[tuple[str, str, int], tuple[list[float], float, _Latency]] = {}
        self._latency: dict[tuple[str, str], _Latency] = {}
        if registry is not None:
            registry.register(self)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        series = self._series.get((method, route, status))
        if series is None:
            series = self._add(method, route, status)
        series[0][0] += 1
        counts = series[2].counts
        # The first bound at or above the value, as `Histogram.observe` finds it; +Inf is last.
        counts[bisect_left(BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def _add(self, method: str, route: str, status: int) -> tuple[list[float], float, _Latency]:
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency[(method, route)] = _Latency()
        series = self._series[(method, route, status)] = ([0.0], time.time(), latency)
        return series

    def describe(self) -> Iterable[Metric]:
        """Name the two families (registration checks names against other collectors)."""
        return [
            Metric(self._counter, self._counter_help, "counter"),
            Metric(self._histogram, self._histogram_help, "histogram"),
        ]

    def collect(self) -> Iterable[Metric]:
        """Return both families' samples as `Counter` and `Histogram` would."""
        requests = Metric(self._counter, self._counter_help, "counter")
        for (method, route, status), (requested, created, _) in list(self._series.items()):
            series = {"method": method, "route": route, "status": str(status)}
            requests.add_sample(f"{self._counter}_total", series, requested[0])
            requests.add_sample(f"{self._counter}_created", series, created)
        latency = Metric(self._histogram, self._histogram_help, "histogram")
        name = self._histogram
        for (method, route), histogram in list(self._latency.items()):
            counts = list(histogram.counts)
            labels: dict[str, Any] = {"method": method, "route": route}
            total = 0.0
            for le, in_bucket in zip(_LE, counts, strict=False):
                total += in_bucket
                latency.add_sample(f"{name}_bucket", {**labels, "le": le}, total)
            latency.add_sample(f"{name}_count", labels, total)
            latency.add_sample(f"{name}_sum", labels, counts[-1])
            latency.add_sample(f"{name}_created", labels, histogram.created)
        return [requests, latency]

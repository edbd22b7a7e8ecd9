"""`RequestMetrics` exposes exactly what `prometheus_client`'s Counter and Histogram would."""

from __future__ import annotations

import re

from podium_runtime.request_metrics import RequestMetrics
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

#: Latencies on, between and past the bounds (0.005 is a bound: `le` includes it).
OBSERVED = [
    ("GET", "/health/live", 200, 0.00004),
    ("GET", "/health/live", 200, 0.005),
    ("GET", "/health/live", 200, 0.0051),
    ("GET", "/v1/competitions/{competition_id}", 404, 0.3),
    ("GET", "/v1/competitions/{competition_id}", 200, 7.5),
    ("POST", "/xapi/statements", 200, 42.0),
    ("GET", "unmatched", 404, 0.0),
]


def _exposition(registry: CollectorRegistry) -> list[str]:
    """Return the exposition's lines with the `_created` timestamps blanked out."""
    text = generate_latest(registry).decode()
    return [re.sub(r"(_created\{.*\}) .*", r"\1 T", line) for line in text.splitlines()]


def test_same_exposition_as_prometheus_client_classes() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    metrics = RequestMetrics(
        "podium_http_requests",
        "HTTP requests handled",
        "podium_http_request_duration_seconds",
        "HTTP request latency",
        registry=ours,
    )
    counter = Counter(
        "podium_http_requests_total",
        "HTTP requests handled",
        ["method", "route", "status"],
        registry=theirs,
    )
    histogram = Histogram(
        "podium_http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=theirs,
    )
    for method, route, status, seconds in OBSERVED:
        metrics.record(method, route, status, seconds)
        counter.labels(method, route, str(status)).inc()
        histogram.labels(method, route).observe(seconds)

    got, expected = _exposition(ours), _exposition(theirs)
    assert got == expected
    assert 'podium_http_requests_total{method="GET",route="/health/live",status="200"} 3.0' in got
    assert (
        'podium_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health/live"}'
        " 2.0" in got
    )


def test_registering_twice_is_refused() -> None:
    registry = CollectorRegistry()
    RequestMetrics("a_requests", "a", "a_seconds", "a", registry=registry)
    try:
        RequestMetrics("a_requests", "a", "a_seconds", "a", registry=registry)
    except ValueError:
        return
    raise AssertionError("a second collector with the same names was registered")

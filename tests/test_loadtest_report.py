"""The load test's report (bench/loadtest/report.py): Locust's CSV and psutil samples to tables.

Pure: the CSV text is what Locust 2 writes with `--csv`; the samples are
what the runner's psutil sampler records.
"""

from __future__ import annotations

import math

import pytest
from loadtest.report import (
    Sample,
    parse_exceptions,
    parse_failures,
    parse_histograms,
    parse_stats,
    render,
    server_routes,
    usage,
)

PERCENTILES = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
STATS = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    f"{PERCENTILES}\n"
    "GET,/v1/competitions/{id},1200,0,41,60.5,3.1,2300.4,812.0,4.0,0.0,"
    "41,55,63,70,95,130,200,310,900,2300,2300\n"
    "POST,/xapi/statements [batch of 10],300,2,120,150.2,20.5,3100.0,400.0,1.0,0.00667,"
    "120,140,160,170,220,410,600,800,3100,3100,3100\n"
    "GET,/v1/never-called,0,0,0,0.0,0,0,0,0.0,0.0,"
    "N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n"
    ",Aggregated,1500,2,50,78.4,3.1,3100.0,730.0,5.0,0.00667,"
    "50,70,80,90,130,200,310,600,3000,3100,3100\n"
)
FAILURES = (
    "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
    "POST,/xapi/statements [batch of 10],HTTPError('503 Server Error'),2,1.0,2.0\n"
)


def test_routes_are_read_busiest_first_with_the_aggregate_apart() -> None:
    routes, total = parse_stats(STATS)

    assert [route.name for route in routes] == [
        "/v1/competitions/{id}",
        "/xapi/statements [batch of 10]",
        "/v1/never-called",
    ]
    details = routes[0]
    assert (details.method, details.requests, details.failures) == ("GET", 1200, 0)
    assert (details.p50_ms, details.p95_ms, details.p99_ms, details.max_ms) == (
        41,
        130,
        310,
        2300.4,
    )
    assert details.per_second == pytest.approx(4.0)
    # An entry without requests has no percentiles ("N/A"): zeros, not a crash.
    assert routes[2].p99_ms == 0
    assert total is not None
    assert (total.requests, total.failures) == (1500, 2)


def test_failures_keep_their_error_and_count() -> None:
    [failure] = parse_failures(FAILURES)

    assert failure.name == "/xapi/statements [batch of 10]"
    assert failure.occurrences == 2
    assert "503" in failure.error


def _sample(at: float, group: str, pid: int, created: float, cpu: float, mib: int) -> Sample:
    return Sample(at, group, pid, created, cpu, mib * 1_048_576)


def test_cpu_is_what_each_process_used_inside_the_window() -> None:
    samples = [
        # Before the window: ignored.
        _sample(95.0, "gateway", 10, 0.0, 1.0, 100),
        # The gateway ran before the window: only the growth inside it counts.
        _sample(100.0, "gateway", 10, 0.0, 5.0, 100),
        _sample(110.0, "gateway", 10, 0.0, 10.0, 140),
        _sample(120.0, "gateway", 10, 0.0, 17.0, 120),
        # A database connection opened during the window counts from zero ...
        _sample(110.0, "postgres", 21, 105.0, 0.5, 30),
        _sample(120.0, "postgres", 21, 105.0, 2.5, 30),
        # ... and one that was there before counts from its first sample.
        _sample(100.0, "postgres", 20, 1.0, 40.0, 50),
        _sample(110.0, "postgres", 20, 1.0, 41.0, 60),
        _sample(120.0, "postgres", 20, 1.0, 42.0, 55),
        # After the window: ignored.
        _sample(130.0, "gateway", 10, 0.0, 30.0, 900),
    ]

    rows = usage(samples, started=100.0, ended=120.0)

    assert [row.group for row in rows] == ["gateway", "postgres"]
    gateway, postgres = rows
    assert gateway.cpu_seconds == pytest.approx(12.0)
    assert gateway.core_percent == pytest.approx(60.0)
    assert gateway.peak_rss_bytes == 140 * 1_048_576
    assert postgres.cpu_seconds == pytest.approx(2.0 + 2.5)
    # Peak RSS of a group: the largest sum of its processes at one instant (60 + 30).
    assert postgres.peak_rss_bytes == 90 * 1_048_576
    assert postgres.processes == 2


def test_a_restarted_process_with_a_reused_pid_is_a_new_process() -> None:
    samples = [
        _sample(100.0, "scoring", 7, 1.0, 50.0, 80),
        _sample(110.0, "scoring", 7, 1.0, 53.0, 80),
        # Same pid, later start: the old process died, this one counts from zero.
        _sample(115.0, "scoring", 7, 112.0, 1.0, 60),
        _sample(120.0, "scoring", 7, 112.0, 2.0, 60),
    ]

    [scoring] = usage(samples, started=100.0, ended=120.0)

    assert scoring.cpu_seconds == pytest.approx(3.0 + 2.0)
    assert scoring.processes == 2


def test_the_report_shows_both_tables_and_the_errors() -> None:
    routes, total = parse_stats(STATS)
    samples = [
        _sample(0.0, "gateway", 1, -5.0, 1.0, 100),
        _sample(60.0, "gateway", 1, -5.0, 31.0, 110),
        _sample(0.0, "locust (load generator)", 2, -1.0, 0.0, 200),
        _sample(60.0, "locust (load generator)", 2, -1.0, 45.0, 210),
    ]

    text = render(
        title="Load test",
        facts=["load average 3.0"],
        routes=routes,
        total=total,
        failures=parse_failures(FAILURES),
        rows=usage(samples, 0.0, 60.0),
        elapsed=60.0,
    )

    assert "| GET /v1/competitions/{id} | 1,200 | 4.0 | 41 | 130 | 310 | 2,300 | 0 |" in text
    assert "| **all routes** | 1,500 | 5.0 | 50 | 200 | 600 | 3,100 | 2 |" in text
    assert "Errors: 2\n- 2 x POST /xapi/statements [batch of 10]: HTTPError" in text
    assert "| gateway | 30.0 | 50.0 | 110 | 1 |" in text
    # The stack's total leaves the load generator out.
    assert "| **stack total** (without Locust) | 30.0 | 50.0 | | 1 |" in text


def test_a_clean_run_says_so() -> None:
    routes, total = parse_stats(STATS.replace(",2,120,", ",0,120,").replace("1500,2,", "1500,0,"))

    text = render(
        title="Load test",
        facts=[],
        routes=routes,
        total=total,
        failures=[],
        rows=[],
        elapsed=60.0,
    )

    assert "Errors: 0 (none)" in text


def _exposition(count: int, total: float, buckets: dict[str, int]) -> str:
    route = 'method="GET",route="/v1/competitions/{competition_id}"'
    lines = ["# HELP podium_http_request_duration_seconds HTTP request latency"]
    lines += [
        f'podium_http_request_duration_seconds_bucket{{{route},le="{le}"}} {n}.0'
        for le, n in buckets.items()
    ]
    lines += [
        f"podium_http_request_duration_seconds_count{{{route}}} {count}.0",
        f"podium_http_request_duration_seconds_sum{{{route}}} {total}",
        f"podium_http_request_duration_seconds_created{{{route}}} 1.7e9",
        'podium_http_requests_total{method="GET",route="/health/live",status="200"} 9.0',
    ]
    return "\n".join(lines) + "\n"


def test_the_gateway_time_is_the_difference_between_two_scrapes() -> None:
    name = "podium_http_request_duration_seconds"
    before = parse_histograms(
        _exposition(10, 1.0, {"0.01": 5, "0.1": 10, "1.0": 10, "+Inf": 10}), name
    )
    after = parse_histograms(
        _exposition(110, 31.0, {"0.01": 5, "0.1": 60, "1.0": 104, "+Inf": 110}), name
    )

    [row] = server_routes(before, after)

    assert (row.method, row.route, row.requests) == (
        "GET",
        "/v1/competitions/{competition_id}",
        100,
    )
    assert row.mean_ms == pytest.approx(300.0)
    # 100 new requests: 0 under 10 ms, 50 under 100 ms, 94 under 1 s, 6 above.
    assert row.p50_le_ms == pytest.approx(100.0)
    assert row.p95_le_ms == math.inf
    text = render(
        title="t", facts=[], routes=[], total=None, failures=[], rows=[], elapsed=1, server=[row]
    )
    assert "| GET /v1/competitions/{competition_id} | 100 | 300 | ≤ 100 | > 10,000 |" in text


def test_exceptions_in_the_users_code_are_reported() -> None:
    exceptions = parse_exceptions(
        'Count,Message,Traceback,Nodes\n3,"KeyError(\'viewer\')","Traceback ...",local\n'
    )

    text = render(
        title="t",
        facts=[],
        routes=[],
        total=None,
        failures=[],
        rows=[],
        elapsed=1,
        exceptions=exceptions,
    )

    assert exceptions == [(3, "KeyError('viewer')")]
    assert "Exceptions in the users' code: 3\n- 3 x KeyError('viewer')" in text

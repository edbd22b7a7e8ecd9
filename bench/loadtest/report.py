"""The load test's report: Locust's per-route statistics and the stack's CPU and memory.

Pure functions, no I/O: the runner hands in the text of Locust's `*_stats.csv`
and `*_failures.csv` and the psutil samples it took, and gets rows and one
markdown document back (`render`).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """One Locust entry (method and name) over the whole run."""

    method: str
    name: str
    requests: int
    failures: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class Failure:
    """One kind of failed request as Locust grouped it."""

    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class Sample:
    """One process seen at one instant: its group (a service, Postgres, ...), CPU and RSS."""

    at: float
    group: str
    pid: int
    #: When the process started (psutil `create_time`, epoch seconds, same clock as `at`).
    created: float
    #: utime + stime so far, seconds.
    cpu_seconds: float
    rss_bytes: int


@dataclass(frozen=True)
class Usage:
    """What one group of processes used over the measured window."""

    group: str
    cpu_seconds: float
    #: CPU seconds per wall second, in % of one core.
    core_percent: float
    #: The largest sum of the group's RSS at one instant.
    peak_rss_bytes: int
    processes: int


@dataclass
class Histogram:
    """One labelled Prometheus histogram: cumulative bucket counts by upper bound, sum, count."""

    buckets: dict[float, float] = field(default_factory=dict)
    sum: float = 0.0
    count: float = 0.0


@dataclass(frozen=True)
class ServerRoute:
    """What the gateway measured itself for one route during the run (its `/metrics`)."""

    method: str
    route: str
    requests: int
    mean_ms: float
    #: Upper bound of the histogram bucket holding the 50th and 95th percentile.
    p50_le_ms: float
    p95_le_ms: float


# Label values may hold braces (route templates): the labels end at the last `}`.
_SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_histograms(text: str, name: str) -> dict[tuple[str, str], Histogram]:
    """Return the series of histogram `name` in a Prometheus text exposition, by (method, route)."""
    found: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
    for line in text.splitlines():
        match = _SERIES.match(line)
        if match is None or not match["name"].startswith(name):
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        key = (labels.get("method", ""), labels.get("route", ""))
        value, suffix = float(match["value"]), match["name"][len(name) :]
        if suffix == "_bucket":
            found[key].buckets[float(labels["le"])] = value
        elif suffix == "_sum":
            found[key].sum = value
        elif suffix == "_count":
            found[key].count = value
    return dict(found)


def _bucket_of(buckets: list[tuple[float, float]], rank: float) -> float:
    """The upper bound of the first bucket whose cumulative count reaches `rank`."""
    for bound, cumulative in buckets:
        if cumulative >= rank:
            return bound
    return math.inf


def server_routes(
    before: dict[tuple[str, str], Histogram], after: dict[tuple[str, str], Histogram]
) -> list[ServerRoute]:
    """Return each route's requests and gateway time between two scrapes, busiest first."""
    rows = []
    for key, end in after.items():
        start = before.get(key, Histogram())
        count = end.count - start.count
        if count <= 0:
            continue
        buckets = sorted(
            (bound, cumulative - start.buckets.get(bound, 0.0))
            for bound, cumulative in end.buckets.items()
        )
        rows.append(
            ServerRoute(
                method=key[0],
                route=key[1],
                requests=round(count),
                mean_ms=1000 * (end.sum - start.sum) / count,
                p50_le_ms=1000 * _bucket_of(buckets, 0.5 * count),
                p95_le_ms=1000 * _bucket_of(buckets, 0.95 * count),
            )
        )
    return sorted(rows, key=lambda row: (-row.requests, row.route, row.method))


def _number(value: str) -> float:
    """Locust writes "N/A" for percentiles of an entry without requests."""
    try:
        return float(value)
    except ValueError:
        return 0.0


def parse_stats(text: str) -> tuple[list[Route], Route | None]:
    """Return the routes of Locust's `*_stats.csv`, busiest first, and its "Aggregated" row."""
    routes: list[Route] = []
    total: Route | None = None
    for row in csv.DictReader(io.StringIO(text)):
        route = Route(
            method=row["Type"],
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            per_second=_number(row["Requests/s"]),
            p50_ms=_number(row["50%"]),
            p95_ms=_number(row["95%"]),
            p99_ms=_number(row["99%"]),
            max_ms=_number(row["Max Response Time"]),
        )
        if route.name == "Aggregated":
            total = route
        else:
            routes.append(route)
    routes.sort(key=lambda route: (-route.requests, route.name, route.method))
    return routes, total


def parse_failures(text: str) -> list[Failure]:
    """Return the rows of Locust's `*_failures.csv`, most frequent first."""
    failures = [
        Failure(row["Method"], row["Name"], row["Error"], int(row["Occurrences"]))
        for row in csv.DictReader(io.StringIO(text))
    ]
    return sorted(failures, key=lambda failure: -failure.occurrences)


def parse_exceptions(text: str) -> list[tuple[int, str]]:
    """Return (count, message) of each exception raised in the users' own code (`*_exceptions.csv`).

    Locust does not count these as failed requests, but a task that raised did not
    do what a user would have done: the report counts them as errors too.
    """
    return [(int(row["Count"]), row["Message"]) for row in csv.DictReader(io.StringIO(text))]


def usage(samples: list[Sample], started: float, ended: float) -> list[Usage]:
    """Return each group's CPU and peak RSS between `started` and `ended`, busiest first.

    A process's CPU over the window is its last sample minus its first one; a
    process that started inside the window counts from zero, so short-lived
    processes (database connections, a restarted service) are not lost. Peak
    RSS is the largest sum over the group's processes sampled at one instant.
    """
    window = [sample for sample in samples if started <= sample.at <= ended]
    first: dict[tuple[str, int, float], Sample] = {}
    last: dict[tuple[str, int, float], Sample] = {}
    rss_at: dict[tuple[str, float], int] = defaultdict(int)
    for sample in sorted(window, key=lambda sample: sample.at):
        key = (sample.group, sample.pid, sample.created)
        first.setdefault(key, sample)
        last[key] = sample
        rss_at[(sample.group, sample.at)] += sample.rss_bytes
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for key, end in last.items():
        start = first[key]
        baseline = 0.0 if start.created >= started else start.cpu_seconds
        cpu[key[0]] += max(end.cpu_seconds - baseline, 0.0)
        count[key[0]] += 1
    peak: dict[str, int] = defaultdict(int)
    for (group, _), rss in rss_at.items():
        peak[group] = max(peak[group], rss)
    elapsed = max(ended - started, 1e-9)
    rows = [
        Usage(group, seconds, 100 * seconds / elapsed, peak[group], count[group])
        for group, seconds in cpu.items()
    ]
    return sorted(rows, key=lambda row: (-row.cpu_seconds, row.group))


def _ms(value: float) -> str:
    return f"{value:,.0f}"


def route_table(routes: list[Route], total: Route | None) -> list[str]:
    """Markdown lines of the per-route table (throughput, latency percentiles, errors)."""
    lines = [
        "| route | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route in [*routes, *([total] if total else [])]:
        label = "**all routes**" if route is total else f"{route.method} {route.name}"
        lines.append(
            f"| {label} | {route.requests:,} | {route.per_second:,.1f} | {_ms(route.p50_ms)} "
            f"| {_ms(route.p95_ms)} | {_ms(route.p99_ms)} | {_ms(route.max_ms)} "
            f"| {route.failures:,} |"
        )
    return lines


def usage_table(rows: list[Usage], elapsed: float) -> list[str]:
    """Markdown lines of the per-process-group table (CPU seconds, % of a core, peak RSS)."""
    lines = [
        f"| process | CPU s over {elapsed:.0f} s | % of one core | peak RSS MiB | processes |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.group} | {row.cpu_seconds:,.1f} | {row.core_percent:,.1f} "
            f"| {row.peak_rss_bytes / 1_048_576:,.0f} | {row.processes} |"
        )
    stack = [row for row in rows if not row.group.startswith("locust")]
    if stack:
        seconds = sum(row.cpu_seconds for row in stack)
        lines.append(
            f"| **stack total** (without Locust) | {seconds:,.1f} "
            f"| {100 * seconds / max(elapsed, 1e-9):,.1f} | | {sum(r.processes for r in stack)} |"
        )
    return lines


def _bound(ms: float) -> str:
    return "> 10,000" if math.isinf(ms) else f"≤ {ms:,.0f}"


def server_table(rows: list[ServerRoute]) -> list[str]:
    """Markdown lines of the time the gateway measured inside itself, per route."""
    lines = [
        "| gateway route (its own histogram) | requests | mean ms | p50 | p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.method} {row.route} | {row.requests:,} | {row.mean_ms:,.0f} "
            f"| {_bound(row.p50_le_ms)} | {_bound(row.p95_le_ms)} |"
        )
    return lines


def render(
    *,
    title: str,
    facts: list[str],
    routes: list[Route],
    total: Route | None,
    failures: list[Failure],
    rows: list[Usage],
    elapsed: float,
    server: list[ServerRoute] | None = None,
    exceptions: list[tuple[int, str]] | None = None,
) -> str:
    """Return the whole report as markdown: facts, the route table, failures, the process table.

    With `server`, a last table shows the time the gateway measured between its
    middleware's start and end for each route; the difference to Locust's figures
    is time spent before the request reached the application (connection, queues).
    """
    lines = [f"## {title}", "", *[f"- {fact}" for fact in facts], ""]
    lines += route_table(routes, total)
    errors = total.failures if total else sum(route.failures for route in routes)
    lines += ["", f"Errors: {errors:,}" + (" (none)" if errors == 0 else "")]
    for failure in failures:
        lines.append(
            f"- {failure.occurrences:,} x {failure.method} {failure.name}: {failure.error}"
        )
    if exceptions:
        lines.append(f"Exceptions in the users' code: {sum(n for n, _ in exceptions):,}")
        lines += [f"- {count:,} x {message}" for count, message in exceptions]
    lines += ["", *usage_table(rows, elapsed), ""]
    if server:
        lines += [*server_table(server), ""]
    return "\n".join(lines)

"""`make loadtest`: a realistic mix of users against the whole stack, with Locust (issue #14).

Starts the stack the way `make dev` does (`podium_runtime.devstack`, on
`LOADTEST_PORT`, default 8600, and the ports after it, in a fresh data
directory), or uses a running one given by `LOADTEST_URL` (then the admin's
`PODIUM_ADMIN_EMAIL` / `PODIUM_ADMIN_PASSWORD` must be set). Seeds it through
the public API (`loadtest.seed`), then runs Locust headless as its own process
for `LOADTEST_DURATION` (default `5m`; Locust's format: `60s`, `2m`, ...) with:

- `LOADTEST_VISITORS` anonymous visitors (default 500),
- `LOADTEST_PARTICIPANTS` signed-in participants who browse and submit (50),
- `LOADTEST_LRS_CLIENTS` LRS clients posting batches of 10 statements (20),
- `LOADTEST_SPONSORS` sponsor reading their competition's stats (1);

`LOADTEST_SCALE` multiplies the defaults (e.g. 0.1 for a smoke run). While
Locust runs, psutil samples every process of the stack each second. At the end
it prints one markdown report (per-route throughput, p50/p95/p99 and errors,
then each process group's CPU seconds, % of one core and peak RSS, then the
gateway's own time per route from its `/metrics`) and writes it to
`build/loadtest/report.md`. The exit status is 1 when any request failed or a
user's task raised.

The stack it starts gets these settings, because one machine plays every client:
the per-IP limit of anonymous requests is what `LOADTEST_VISITORS` browsers
behind distinct addresses would get together (their count times the default
per-address limit), and identity hashes passwords with cheap argon2 parameters
so that seeding hundreds of accounts takes seconds (logins during the test are
cheap too). Services log at WARNING, as the other benchmarks run them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil
from _support import dev_stack
from podium_gateway.config import Settings as GatewaySettings
from podium_runtime.devstack import SERVICES

from loadtest.processes import Sampler, StackProcesses
from loadtest.report import (
    Histogram,
    parse_exceptions,
    parse_failures,
    parse_histograms,
    parse_stats,
    render,
    server_routes,
    usage,
)
from loadtest.seed import Seed, seed

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "loadtest"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
DEFAULTS = {"VISITORS": 500, "PARTICIPANTS": 50, "LRS_CLIENTS": 20, "SPONSORS": 1}
LABELS = {
    "VISITORS": "anonymous visitors",
    "PARTICIPANTS": "participants",
    "LRS_CLIENTS": "LRS clients",
    "SPONSORS": "sponsor(s)",
}


@dataclass(frozen=True)
class Plan:
    """What to run: the users of each kind, for how long, against which stack."""

    users: dict[str, int]
    duration: str
    spawn_rate: float
    url: str | None
    port: int

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Plan:
        """Read the `LOADTEST_*` settings."""
        scale = float(environ.get("LOADTEST_SCALE", "1"))
        users = {
            kind: int(environ.get(f"LOADTEST_{kind}", max(round(default * scale), 1)))
            for kind, default in DEFAULTS.items()
        }
        return cls(
            users=users,
            duration=environ.get("LOADTEST_DURATION", "5m"),
            spawn_rate=float(environ.get("LOADTEST_SPAWN_RATE", "25")),
            url=environ.get("LOADTEST_URL") or None,
            port=int(environ.get("LOADTEST_PORT", "8600")),
        )


def stack_settings(visitors: int, admin_email: str, admin_password: str) -> dict[str, str]:
    """The environment of a stack started for the load test (see the module's docstring)."""
    per_address = GatewaySettings.model_fields["rate_limit_ip"].default
    env = {
        "PODIUM_ADMIN_EMAIL": admin_email,
        "PODIUM_ADMIN_PASSWORD": admin_password,
        "PODIUM_GATEWAY_RATE_LIMIT_IP": str(per_address * max(visitors, 1)),
        "PODIUM_IDENTITY_ARGON2_TIME_COST": "1",
        "PODIUM_IDENTITY_ARGON2_MEMORY_KIB": "8192",
        "PODIUM_IDENTITY_ARGON2_PARALLELISM": "1",
    }
    for service in SERVICES:
        env[f"PODIUM_{service.upper()}_LOG_LEVEL"] = "WARNING"
    return env


LATENCY = "podium_http_request_duration_seconds"


def gateway_latency(url: str) -> dict[tuple[str, str], Histogram] | None:
    """Scrape the gateway's request-latency histograms (None when `/metrics` does not answer)."""
    try:
        answer = httpx.get(f"{url}/metrics", timeout=30)
    except httpx.HTTPError:
        return None
    return parse_histograms(answer.text, LATENCY) if answer.status_code == 200 else None


def run_locust(plan: Plan, url: str, seed_file: Path, sampler: Sampler) -> tuple[float, float]:
    """Run Locust headless until its run time is over; return when it started and ended."""
    env = {
        **os.environ,
        "LOADTEST_SEED": str(seed_file),
        **{f"LOADTEST_{kind}": str(n) for kind, n in plan.users.items()},
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", url, "--users", str(sum(plan.users.values())),
        "--spawn-rate", str(plan.spawn_rate), "--run-time", plan.duration,
        "--stop-timeout", "30", "--csv", str(OUT / "locust"), "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    started = time.time()
    locust = subprocess.Popen(command, env=env)  # noqa: S603 - our own locustfile
    sampler.watch("locust (load generator)", locust.pid)
    try:
        locust.wait()
    finally:
        if locust.poll() is None:
            locust.terminate()
            locust.wait(60)
    return started, time.time()


def report(
    plan: Plan,
    url: str,
    sampler: Sampler,
    window: tuple[float, float],
    latency: tuple[dict[tuple[str, str], Histogram] | None, ...],
) -> int:
    """Build, print and write the report; return the number of errors (failures, exceptions)."""
    started, ended = window
    before, after = latency
    server = server_routes(before, after) if before is not None and after is not None else None
    routes, total = parse_stats((OUT / "locust_stats.csv").read_text())
    failures = parse_failures((OUT / "locust_failures.csv").read_text())
    exceptions = parse_exceptions((OUT / "locust_exceptions.csv").read_text())
    rows = usage(sampler.samples, started, ended)
    loads = sampler.load or [0.0]
    users = ", ".join(f"{n} {LABELS[kind]}" for kind, n in plan.users.items())
    facts = [
        f"`make loadtest` against {url}: {users}; run time {plan.duration} "
        f"(measured window {ended - started:.0f} s, spawn rate {plan.spawn_rate:g}/s)",
        f"machine: {psutil.cpu_count()} cores; 1-minute load average during the run "
        f"{min(loads):.1f}-{max(loads):.1f} (mean {sum(loads) / len(loads):.1f})",
        "latencies in ms (Locust rounds them to 2 significant digits); "
        "req/s over the whole run, ramp-up included",
        "CPU and peak RSS sampled with psutil every second; a group's RSS is the sum over its "
        "processes (Postgres connections share buffers, so its sum counts them more than once)",
    ]
    text = render(
        title="Load test",
        facts=facts,
        routes=routes,
        total=total,
        failures=failures,
        rows=rows,
        elapsed=ended - started,
        server=server,
        exceptions=exceptions,
    )
    (OUT / "report.md").write_text(text)
    print("\n" + text)
    print(f"loadtest: report written to {(OUT / 'report.md').relative_to(ROOT)}")
    failed = total.failures if total else sum(route.failures for route in routes)
    return failed + sum(count for count, _ in exceptions)


def main() -> int:
    """Start or find the stack, seed it, run Locust while sampling, report."""
    plan = Plan.from_environment(dict(os.environ))
    OUT.mkdir(parents=True, exist_ok=True)
    admin_email = os.environ.get("PODIUM_ADMIN_EMAIL", "loadtest-admin@example.org")
    admin_password = os.environ.get("PODIUM_ADMIN_PASSWORD", "")
    with ExitStack() as cleanup:
        if plan.url:
            if not admin_password:
                print("loadtest: LOADTEST_URL needs PODIUM_ADMIN_EMAIL and PODIUM_ADMIN_PASSWORD")
                return 2
            url = plan.url.rstrip("/")
            stack = StackProcesses.of_running_stack(urlparse(url).port or 80)
        else:
            # A throwaway admin of a throwaway stack, unless the caller names one.
            admin_password = admin_password or f"Load test admin {secrets.token_urlsafe(12)}"
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="loadtest-")))
            log = cleanup.enter_context((OUT / "stack.log").open("wb"))
            env = stack_settings(plan.users["VISITORS"], admin_email, admin_password)
            print(
                f"loadtest: starting the stack on port {plan.port} (log: build/loadtest/stack.log)"
            )
            devstack = cleanup.enter_context(dev_stack(plan.port, env, workdir, log))
            url = f"http://127.0.0.1:{plan.port}"
            stack = StackProcesses([psutil.Process(devstack.pid)], workdir / "pg")
        print(f"loadtest: seeding {url} ...", flush=True)
        seeded: Seed = asyncio.run(
            seed(
                url,
                admin_email,
                admin_password,
                plan.users["PARTICIPANTS"],
                plan.users["LRS_CLIENTS"],
            )
        )
        seed_file = OUT / "seed.json"
        seeded.write(seed_file)
        sampler = Sampler(stack)
        sampler.start()
        before = gateway_latency(url)
        print(f"loadtest: Locust for {plan.duration}: {plan.users}", flush=True)
        try:
            window = run_locust(plan, url, seed_file, sampler)
        finally:
            sampler.stop()
        after = gateway_latency(url)
        seed_file.unlink()  # it holds the accounts' passwords and the LRS secrets
        errors = report(plan, url, sampler, window, (before, after))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

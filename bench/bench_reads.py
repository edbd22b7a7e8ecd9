"""Gateway read throughput against a bare FastAPI app with the same uvicorn settings (issue #14).

Starts identity, competitions, the notifier and the gateway the way `make dev` starts them
(`_support.start_ready`, quiet logs, no per-IP limit since one address sends
everything), creates an active public competition with a 100-entry board and
one with a 100,000-entry board (seeded in bulk through the competitions
rebuild path, `podium_competitions.seeding`), and records the gateway's answers.
Then it starts the bare app: `uvicorn.run` with the settings every service uses
(`podium_runtime.cli`), serving `/ping` and exactly those answers as JSON.

Load: `wrk` (a compiled generator, so the client is not the bottleneck) with
`--connections` connections (default 32) and 2 threads for `--seconds` per
route (default 8) after a 2 s warm-up, both sides in the same run. Prints
req/s, p50/p99 latency and the ratio: the board and details against the bare
app serving the same JSON, `/health/live`, authenticated details and
`/v1/users/me` against the bare `/ping`. The board and details requests have
the shapes the gateway answers at its edge (ADR 0070): `limit=` alone, anonymous
or with a verified token; the last two columns (CPU per request) are the figures
to compare across runs on a busy machine.

The table measures each route once, one after another, so a machine whose speed
drifts between the bare app's row and the gateway's moves their ratio. The
15 % `/health/live` may cost is smaller than that drift on a shared machine, so
`--pairs` rounds (default 6) then measure the bare `/ping` and `/health/live`
back to back, in alternating order (bare first, then the gateway first), and
print each round's ratio and their median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _support import service_env, start, stop, wait_ready
from podium_competitions.seeding import seed_prediction_board
from podium_runtime.devstack import dev_mail_environment
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure

BARE_APP = """
import json, sys
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
app = FastAPI()
DOCUMENTS = json.load(open(sys.argv[2]))
@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
@app.get("/json/{name}")
async def document(name: str) -> JSONResponse:
    return JSONResponse(DOCUMENTS[name])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False,
            timeout_graceful_shutdown=20, timeout_keep_alive=75, proxy_headers=False)
"""


def wrk(
    url: str, seconds: int, connections: int, token: str | None
) -> tuple[float, float, float, int]:
    """Run wrk on `url`; return req/s, p50 and p99 in ms, and requests. Non-2xx answers fail."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    command.append(url)
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    if "Non-2xx" in out or re.search(r"Socket errors: connect [1-9]|read [1-9]|write [1-9]", out):
        raise RuntimeError(f"{url} answered errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(name: str) -> float:
        value, unit = re.search(rf"\s{name}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rate, percentile("50"), percentile("99"), done


async def prepare(gateway: str, infra: TestInfrastructure) -> tuple[dict[str, str], str]:
    """Create the competitions and boards; return the URLs measured and a user's token."""
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        email = f"{uuid.uuid4().hex[:12]}@example.org"
        password = "Bench password 2024!"  # noqa: S105 - a throwaway benchmark account
        made = await http.post(
            "/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Bench sponsor"},
        )
        assert made.status_code == 201, made.text
        login = await http.post("/v1/auth/login", json={"email": email, "password": password})
        token = str(login.json()["access_token"])
        reader = f"{uuid.uuid4().hex[:12]}@example.org"
        await http.post(
            "/v1/auth/register",
            json={"email": reader, "password": password, "display_name": "Bench reader"},
        )
        reader_login = await http.post(
            "/v1/auth/login", json={"email": reader, "password": password}
        )
        reader_token = str(reader_login.json()["access_token"])
        now = datetime.now(UTC)
        ids = {}
        for name, entries in (("board100", 100), ("board100k", 100_000)):
            created = await http.post(
                "/v1/competitions",
                json={
                    "kind": "prediction",
                    "title": f"Read bench {name}",
                    "status": "active",
                    "metric": "auc_roc",
                    "starts_at": (now - timedelta(days=1)).isoformat(),
                    "ends_at": (now + timedelta(days=30)).isoformat(),
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
            ids[name] = created.json()["id"]
            await seed_prediction_board(
                infra.database_url, infra.infra.redis_url, uuid.UUID(ids[name]), entries
            )
        board = f"{gateway}/v1/competitions/{ids['board100']}"
        urls = {
            "board100": f"{board}/leaderboard?limit=100",
            "board100k": f"{gateway}/v1/competitions/{ids['board100k']}/leaderboard?limit=100",
            "details": board,
            "details_auth": board,
            "me": f"{gateway}/v1/users/me",
            "live": f"{gateway}/health/live",
        }
        for name in ("board100", "board100k"):
            got = (await http.get(urls[name])).json()
            assert len(got["entries"]) == 100, got
        return urls, reader_token


def cpu_seconds(pids: list[int]) -> float:
    """Return the CPU time (user + system) the processes `pids` have used so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def top_frames(raw: Path, count: int = 8) -> list[tuple[float, str]]:
    """Return the functions holding the most samples at the top of the stack (self time), in %."""
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        leaf = stack.split(";")[-1]
        own[leaf] = own.get(leaf, 0) + int(samples)
        total += int(samples)
    ranked = sorted(own.items(), key=lambda item: -item[1])[:count]
    return [(100 * n / max(total, 1), frame) for frame, n in ranked]


def profiled(
    pid: int, slug: str, directory: Path, seconds: int
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start py-spy on the gateway for `seconds`, writing collapsed stacks under `directory`."""
    out = directory / f"{slug}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--pid", str(pid), "-d", str(seconds), "-r", "100"]
    command += ["-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out  # noqa: S603


def paired(bare: str, gateway: str, seconds: int, connections: int, rounds: int) -> list[float]:
    """Measure `bare` and `gateway` back to back, `rounds` times; return each round's ratio.

    The order alternates (bare first, then the gateway first), so a machine that speeds
    up or slows down during the rounds favours neither side.
    """
    ratios = []
    for round_ in range(rounds):
        order = (bare, gateway) if round_ % 2 == 0 else (gateway, bare)
        rates = {url: wrk(url, seconds, connections, None)[0] for url in order}
        ratios.append(rates[gateway] / rates[bare])
    return ratios


def run(
    urls: dict[str, str],
    token: str,
    seconds: int,
    connections: int,
    workdir: Path,
    service_pids: list[int],
    profile: tuple[int, Path] | None = None,
    pairs: int = 0,
) -> None:
    """Record the gateway's answers, start the bare app serving them, measure, print the table.

    `service_pids` are the services' processes, the gateway last: CPU time per request
    is measured on them (gateway alone, and all services) as on the bare app's process,
    which depends far less on the machine's load than req/s does.
    With `profile` (the gateway's pid and a directory), py-spy samples the gateway
    during each of its routes and the table is followed by each route's top frames.
    """
    documents = {
        name: httpx.get(urls[name], timeout=30).json()
        for name in ("board100", "board100k", "details")
    }
    served = workdir / "documents.json"
    served.write_text(json.dumps(documents))
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(served)])  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/ping").status_code == 200:
                    break
            except httpx.HTTPError:
                subprocess.run(["sleep", "0.1"], check=False)  # noqa: S607
        rows = [
            ("bare FastAPI GET /ping", f"{base}/ping", None, None),
            ("bare FastAPI, 100-entry board JSON", f"{base}/json/board100", None, None),
            ("bare FastAPI, top 100 of 100k board JSON", f"{base}/json/board100k", None, None),
            ("bare FastAPI, details JSON", f"{base}/json/details", None, None),
            ("gateway /health/live", urls["live"], None, "ping"),
            ("gateway board top 100 (100 entries), anon", urls["board100"], None, "board100"),
            ("gateway board top 100 (100k entries), anon", urls["board100k"], None, "board100k"),
            ("gateway competition details, anon", urls["details"], None, "details"),
            ("gateway competition details, auth", urls["details_auth"], token, "ping (auth)"),
            ("gateway GET /v1/users/me", urls["me"], token, "ping (auth)"),
        ]
        reference = {
            "ping": rows[0][0],
            "ping (auth)": rows[0][0],
            "board100": rows[1][0],
            "board100k": rows[2][0],
            "details": rows[3][0],
        }
        target = {"ping": 0.85, "ping (auth)": 0.5, "board100": 0.7, "board100k": 0.7}
        target["details"] = 0.7
        results: dict[str, float] = {}
        profiles: list[tuple[str, Path]] = []
        print(
            f"{'route':<46} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} {'target':>6} "
            f"{'gw us/req':>9} {'all us/req':>10}"
        )
        for name, url, auth, against in rows:
            wrk(url, 2, connections, auth)  # warm-up
            spy = None
            if profile is not None and url.startswith(urls["live"].rsplit("/health", 1)[0]):
                slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
                spy, raw = profiled(profile[0], slug, profile[1], seconds)
                profiles.append((name, raw))
            gateway_side = url.startswith(urls["live"].rsplit("/health", 1)[0])
            pids = service_pids if gateway_side else [bare.pid]
            cpu_before = (cpu_seconds(pids[-1:]), cpu_seconds(pids))
            rate, p50, p99, done = wrk(url, seconds, connections, auth)
            cpu_after = (cpu_seconds(pids[-1:]), cpu_seconds(pids))
            requests = max(done, 1)
            own_us = 1e6 * (cpu_after[0] - cpu_before[0]) / requests
            all_us = 1e6 * (cpu_after[1] - cpu_before[1]) / requests
            if spy is not None:
                spy.wait(seconds + 30)
            results[name] = rate
            ratio = rate / results[reference[against]] if against else 1.0
            goal = f"{target[against]:.2f}" if against else ""
            print(
                f"{name:<46} {rate:8.0f} {p50:7.1f} {p99:7.1f} {ratio:6.2f} {goal:>6} "
                f"{own_us:9.0f} {all_us if gateway_side else own_us:10.0f}"
            )
        if pairs:
            ratios = paired(f"{base}/ping", urls["live"], seconds, connections, pairs)
            print(
                f"\n/health/live against the bare /ping, {pairs} rounds back to back "
                f"(target 0.85): "
                + ", ".join(f"{r:.2f}" for r in ratios)
                + f"; median {statistics.median(ratios):.2f}"
            )
        for name, raw in profiles:
            print(f"\n{name}: top frames by own samples (py-spy)")
            if raw.exists():
                for share, frame in top_frames(raw):
                    print(f"  {share:5.1f}%  {frame}")
    finally:
        bare.terminate()
        bare.wait(20)


async def start_stack(
    workdir: Path, processes: list[subprocess.Popen[bytes]]
) -> tuple[str, TestInfrastructure]:
    """Start the infrastructure and the services `/v1/users/me` and the reads need.

    Return the gateway URL.
    """
    infra = await TestInfrastructure.start(workdir)
    await infra.migrate("identity", "competitions", "notifier")
    ports = {name: free_port() for name in ("gateway", "identity", "competitions", "notifier")}
    env = service_env(infra, ports)
    # The notifier's mails go to its development sink, as under `make dev`.
    mails = dev_mail_environment(workdir, ports["gateway"])
    if mails:
        mails["PODIUM_NOTIFIER_SMTP_PORT"] = str(free_port())
    env.update(mails)
    env.update(
        {
            "PODIUM_IDENTITY_JWT_KEYS_DIR": str(workdir / "keys"),
            "PODIUM_IDENTITY_JWT_GENERATE_MISSING_KEY": "true",
            "PODIUM_GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{ports['identity']}",
            "PODIUM_GATEWAY_COMPETITIONS_URL": f"http://127.0.0.1:{ports['competitions']}",
            "PODIUM_GATEWAY_NOTIFIER_URL": f"http://127.0.0.1:{ports['notifier']}",
            # One client address sends everything here: lift the per-IP and per-user limits.
            "PODIUM_GATEWAY_RATE_LIMIT_IP": "1000000000",
            "PODIUM_GATEWAY_RATE_LIMIT_USER": "1000000000",
        }
    )
    try:
        # One at a time, each with time to start on a busy machine.
        for service in ("identity", "competitions", "notifier", "gateway"):
            processes.append(start(service, env))
            await wait_ready(f"http://127.0.0.1:{ports[service]}", processes[-1], timeout=300)
    except BaseException:
        stop(processes)
        infra.stop()
        raise
    return f"http://127.0.0.1:{ports['gateway']}", infra


def main() -> int:
    """Parse the options, start everything, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--pairs", type=int, default=6, help="rounds of bare /ping and /health/live back to back"
    )
    parser.add_argument(
        "--profile", default="", help="a directory: sample the gateway with py-spy per route"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_reads needs wrk (Debian package `wrk`; `make bench` installs it)")
        return 1
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as workdir:
        infra: TestInfrastructure | None = None
        try:
            gateway, infra = asyncio.run(start_stack(Path(workdir), processes))
            assert infra is not None
            urls, token = asyncio.run(prepare(gateway, infra))
            profile = None
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                profile = (processes[-1].pid, Path(args.profile))
            pids = [process.pid for process in processes]
            run(
                urls,
                token,
                args.seconds,
                args.connections,
                Path(workdir),
                pids,
                profile,
                args.pairs,
            )
        finally:
            try:
                stop(processes)
            except subprocess.TimeoutExpired:
                for process in processes:
                    process.kill()
            if infra is not None:
                infra.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The gateway's internal calls: httpx's own transport against `InternalTransport` (ADR 0107).

A service process (uvicorn with the services' settings: uvloop, httptools, 75 s
keep-alive) answers `PUT /internal/v1/echo` with a 2 KB JSON document. The
benchmark's process is the gateway's side: one `httpx.AsyncClient` as the gateway
builds it (the service credential signed on every call, the same timeouts), with
`CALLERS` concurrent callers each sending a 2 KB body. It alternates httpx's
default transport (httpcore's pool, limits as the gateway had them) and
`InternalTransport`, `ROUNDS` rounds each, and prints calls per second and the
caller's CPU per call, with ratios to httpx's transport measured in the same run.

Usage: python bench/bench_internal_http.py [--callers 16] [--calls 150]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import uvicorn
import uvloop
from _support import wait_ready
from podium_gateway.clients.transport import InternalTransport
from podium_runtime import service_credentials
from podium_runtime.ports import free_port
from podium_runtime.settings import ServiceSettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROUNDS = 3
ANSWER = b'{"state":"' + b"s" * 2000 + b'"}'
BODY = b'{"state":"' + b"b" * 2000 + b'"}'
KEY = b"bench-internal-http-key-32-bytes"


async def echo(request: Request) -> Response:
    """Read the body, answer 2 KB of JSON."""
    await request.body()
    return Response(ANSWER, media_type="application/json")


async def ready(request: Request) -> Response:
    """Answer 200 once the server runs (`_support.wait_ready` polls it)."""
    return Response(b"ok")


def serve(port: int) -> None:
    """Run the service side on `port`, as `podium_runtime.cli` runs a service."""
    app = Starlette(
        routes=[
            Route("/internal/v1/echo", echo, methods=["PUT"]),
            Route("/health/ready", ready),
        ]
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=ServiceSettings.model_fields["keep_alive_seconds"].default,
    )


TRANSPORTS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "httpx's transport (httpcore)": lambda: httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
    ),
    "InternalTransport": lambda: InternalTransport(max_connections=200, max_idle=50),
}


async def one_round(
    url: str, make: Callable[[], httpx.AsyncBaseTransport], callers: int, calls: int
) -> tuple[float, float]:
    """Return calls/s and CPU µs per call of `callers` concurrent callers on a fresh client."""
    async with httpx.AsyncClient(
        transport=make(), auth=service_credentials.ServiceCredentialAuth(KEY), timeout=10
    ) as http:

        async def caller(count: int) -> None:
            for _ in range(count):
                answer = await http.put(url, content=BODY, headers={"X-Podium-User-Id": "7"})
                if answer.status_code != 200 or len(answer.content) != len(ANSWER):
                    raise RuntimeError(f"unexpected answer {answer.status_code}")

        await asyncio.gather(*(caller(10) for _ in range(callers)))  # connections opened
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(caller(calls) for _ in range(callers)))
        elapsed, spent = time.perf_counter() - started, time.process_time() - cpu
    total = callers * calls
    return total / elapsed, spent / total * 1e6


async def measure(
    base: str, server: subprocess.Popen[bytes], callers: int, calls: int
) -> dict[str, list[tuple[float, float]]]:
    """Once the service answers, alternate the transports, `ROUNDS` rounds each."""
    await wait_ready(base, server)
    url = f"{base}/internal/v1/echo"
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in TRANSPORTS}
    for round_ in range(ROUNDS):
        for name, make in TRANSPORTS.items():
            results[name].append(await one_round(url, make, callers, calls))
            print(f"  round {round_ + 1}/{ROUNDS}: {name} done", flush=True)
    return results


def main() -> None:
    """Start the service process, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers")
    parser.add_argument("--calls", type=int, default=150, help="calls per caller and round")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port)]
    server = subprocess.Popen(command)  # noqa: S603 - this script
    try:
        print(
            f"{args.callers} callers x {args.calls} calls, PUT 2 KB -> 2 KB JSON, "
            f"{ROUNDS} rounds each"
        )
        base = f"http://127.0.0.1:{port}"
        results = uvloop.run(measure(base, server, args.callers, args.calls))
    finally:
        server.terminate()
        server.wait(15)
    base_rate = statistics.median(rate for rate, _ in results[next(iter(TRANSPORTS))])
    base_cpu = statistics.median(cpu for _, cpu in results[next(iter(TRANSPORTS))])
    print()
    print("| transport | calls/s (median) | ratio | caller CPU per call (median) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, rounds in results.items():
        rate = statistics.median(r for r, _ in rounds)
        cpu = statistics.median(c for _, c in rounds)
        print(
            f"| {name} | {rate:,.0f} | {rate / base_rate:.2f} | {cpu:,.0f} µs "
            f"| {cpu / base_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()

"""The internal client's transport against real servers: reuse, streaming, failures (ADR 0107)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from podium_gateway.clients.transport import InternalTransport
from podium_runtime.ports import free_port
from podium_runtime.testing import eventually, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

BIG_PIECE = bytes(range(256)) * 4096  # 1 MiB
BIG_PIECES = 8
#: Released by a test to let `/held` answer.
held = asyncio.Event()


async def echo(request: Request) -> Response:
    """Answer what was received, and from which client port (one per connection)."""
    body = await request.body()
    answer = {
        "method": request.method,
        "query": request.url.query,
        "body": body.decode(),
        "caller": request.headers.get("x-caller"),
        "port": request.client.port if request.client else None,
    }
    headers = {"Connection": "close"} if request.query_params.get("close") else None
    return JSONResponse(answer, headers=headers)


async def big(request: Request) -> Response:
    """Stream 8 MiB in 1 MiB pieces (chunked)."""

    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(BIG_PIECES):
            yield BIG_PIECE

    return StreamingResponse(pieces(), media_type="application/octet-stream")


async def held_answer(request: Request) -> Response:
    """Answer once the test releases `held`."""
    await held.wait()
    return JSONResponse({"released": True})


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/big", big),
        Route("/held", held_answer),
    ]
)


@pytest.fixture
async def service() -> AsyncIterator[str]:
    """A uvicorn server with production's keep-alive settings."""
    held.clear()
    async with serve(APP) as url:  # type: ignore[arg-type]
        yield url
    held.set()


@contextlib.asynccontextmanager
async def client(
    max_connections: int = 200,
) -> AsyncIterator[tuple[httpx.AsyncClient, InternalTransport]]:
    """An httpx client on the transport, as the gateway builds it."""
    transport = InternalTransport(max_connections=max_connections)
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        yield http, transport


@contextlib.asynccontextmanager
async def raw_server(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[tuple[str, list[int]]]:
    """A bare TCP server running `answer` per connection; yields its URL and a connection count."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections


async def test_concurrent_calls_share_a_few_kept_alive_connections(service: str) -> None:
    async with client() as (http, transport):

        async def caller(number: int) -> list[int]:
            ports = []
            for round_ in range(20):
                method = ("GET", "PUT", "POST", "DELETE")[round_ % 4]
                body = f"{number}-{round_}" if method in ("PUT", "POST") else ""
                answer = await http.request(
                    method,
                    f"{service}/echo",
                    params={"n": str(number), "r": str(round_)},
                    content=body.encode() if body else None,
                    headers={"X-Caller": str(number)},
                )
                got = answer.json()
                assert answer.status_code == 200
                assert (got["method"], got["body"], got["caller"]) == (method, body, str(number))
                assert got["query"] == f"n={number}&r={round_}"
                ports.append(got["port"])
            return ports

        ports = [port for ports in await asyncio.gather(*map(caller, range(16))) for port in ports]
        assert len(ports) == 320
        # One connection per concurrent caller at most, each reused for many calls.
        assert len(set(ports)) <= 16
        assert transport.idle_connections() == len(set(ports))


async def test_an_answer_that_says_close_is_not_reused(service: str) -> None:
    async with client() as (http, _):
        first = (await http.get(f"{service}/echo", params={"close": "1"})).json()["port"]
        second = (await http.get(f"{service}/echo")).json()["port"]
        third = (await http.get(f"{service}/echo")).json()["port"]
    assert first != second
    assert second == third


async def test_a_large_answer_streams_whole_then_the_connection_serves_again(service: str) -> None:
    expected = hashlib.sha256(BIG_PIECE * BIG_PIECES).hexdigest()
    async with client() as (http, _):
        before = (await http.get(f"{service}/echo")).json()["port"]
        digest, total = hashlib.sha256(), 0
        async with http.stream("GET", f"{service}/big") as answer:
            async for piece in answer.aiter_raw():
                digest.update(piece)
                total += len(piece)
        after = (await http.get(f"{service}/echo")).json()["port"]
    assert (total, digest.hexdigest()) == (len(BIG_PIECE) * BIG_PIECES, expected)
    assert before == after


async def test_an_answer_left_unread_closes_its_connection(service: str) -> None:
    async with client() as (http, transport):
        async with http.stream("GET", f"{service}/big") as answer:
            async for _ in answer.aiter_raw():
                break
        assert transport.idle_connections() == 0
        got = await http.get(f"{service}/echo")
    assert got.status_code == 200


async def test_a_connection_the_service_closed_is_replaced() -> None:
    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with raw_server(answer_once) as (url, connections), client() as (http, transport):
        assert (await http.get(url)).text == "ok"
        # The loop reports the server's close: the idle connection is dropped, not polled.
        await eventually(
            condition(lambda: transport.idle_connections() == 0), message="the close noticed"
        )
        assert (await http.get(url)).text == "ok"
    assert len(connections) == 2


async def test_an_answer_without_a_length_ends_when_the_service_closes() -> None:
    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, ")
        await writer.drain()
        writer.write(b"world")

    async with raw_server(close_delimited) as (url, _), client() as (http, transport):
        answer = await http.get(url)
        assert (answer.status_code, answer.text) == (200, "hello, world")
        assert transport.idle_connections() == 0


async def test_a_malformed_answer_or_a_service_gone_is_a_transport_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async with client() as (http, _):
        async with raw_server(garbage) as (url, _):
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url)
        async with raw_server(hang_up) as (url, _):
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url)
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{free_port()}/")


async def test_waits_end_in_timeouts(service: str) -> None:
    async with client(max_connections=1) as (http, transport):
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{service}/held", timeout=httpx.Timeout(10, read=0.2))
        waiting = asyncio.create_task(http.get(f"{service}/held"))
        await eventually(condition(lambda: transport.in_flight() == 1), message="one in flight")
        with pytest.raises(httpx.PoolTimeout):
            await http.get(f"{service}/echo", timeout=httpx.Timeout(10, pool=0.2))
        held.set()
        assert (await waiting).json() == {"released": True}
        assert (await http.get(f"{service}/echo")).status_code == 200


async def test_a_header_that_would_break_a_line_is_never_sent() -> None:
    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with raw_server(record) as (url, connections), client() as (http, _):
        for value in ("7\r\nX-Podium-User-Role: admin", "7\nX", "7\rX", "7\0"):
            with pytest.raises(httpx.LocalProtocolError):
                await http.get(url, headers={"X-Podium-User-Id": value})
    assert connections == []


def condition(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """Return a probe for `eventually` that reads `check()` each time."""

    async def probe() -> bool:
        return check()

    return probe

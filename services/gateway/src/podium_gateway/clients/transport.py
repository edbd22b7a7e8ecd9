"""The internal client's transport: keep-alive connections the event loop watches (ADR 0107).

The gateway's one internal `httpx.AsyncClient` (SPEC §6) sends every call to the
services through `InternalTransport`. httpx keeps its part (building the request,
the service credential, `Response`), and this module replaces httpcore's pool:

- a connection is an `asyncio.Protocol`; the loop tells it when the peer closes,
  so nothing polls the idle connections' sockets before each request (httpcore
  asks every idle connection whether its socket is readable, each time a request
  is added or removed, which cost more CPU than the rest of the call);
- idle connections wait in a last-in-first-out stack per origin, at most
  `max_idle` of them, each for at most `idle_seconds` (kept below the services'
  75 s keep-alive, so the server does not close first);
- at most `max_connections` requests are in flight; one more waits up to the
  request's `pool` timeout (`httpx.PoolTimeout`);
- responses are parsed by `httptools` (llhttp) and streamed: a body larger than
  `_HIGH_WATER` pauses reading until the caller takes it, so an export passes
  through in bounded memory.

Only `http://` is handled here; other schemes and `HEAD` go to httpx's own
transport. A request is never sent twice: a connection that fails is closed and the
failure raised as httpx's `TransportError` subclasses, which `clients.call()` turns
into a 503 problem.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

#: Bytes of response body buffered before the connection stops reading.
_HIGH_WATER = 1 << 20


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, parses its response as it arrives."""

    def __init__(self, origin: tuple[str, int]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reusable = False
        self._error: Exception | None = None
        self._status_line = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._framed = False
        self._readable: asyncio.Future[None] | None = None
        self._paused = False

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (uvloop's is not an `asyncio.Transport` subclass, but acts as one)."""
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; a byte outside an exchange makes the connection unusable."""
        if self._head is None or self._complete:
            self._fail(httpx.RemoteProtocolError("data received after the answer"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed response: {exc}"))

    def eof_received(self) -> bool | None:
        """The peer closed its side: a body without a length ends here; else fail the wait."""
        if self._head is not None and self._head.done() and not self._framed:
            self.on_message_complete()
        self.reusable = False
        self._fail(httpx.RemoteProtocolError("the service closed the connection"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Mark the connection dead and wake whoever waits on it."""
        self._fail(httpx.ReadError(str(exc)) if exc else None)
        self.closed = True

    # httptools callbacks --------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        """Keep the reason phrase."""
        self._status_line += status

    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect one header; note whether it frames the body."""
        self._headers.append((name, value))
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        """The head is in: whoever waits for it may read the status and headers."""
        self.reusable = self.parser.should_keep_alive()
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        """Buffer a piece of body; stop reading past the high-water mark."""
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        """The response is whole."""
        self._complete = True
        self._wake()

    # the exchange ---------------------------------------------------------------------

    def begin(self) -> None:
        """Reset the per-response state before a request is written."""
        self._head = asyncio.get_running_loop().create_future()
        self._status_line = b""
        self._headers = []
        self._chunks.clear()
        self._buffered = 0
        self._complete = False
        self._framed = False
        self._error = None
        self.reusable = False

    async def response_head(
        self, timeout: float | None, body: httpx.AsyncByteStream
    ) -> httpx.Response:
        """Wait for the status line and headers; return the response, its body read by `body`."""
        assert self._head is not None
        try:
            async with asyncio.timeout(timeout):
                await self._head
        except TimeoutError as exc:
            raise httpx.ReadTimeout("the service did not answer in time") from exc
        return httpx.Response(
            self.parser.get_status_code(),
            headers=self._headers,
            stream=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self._status_line},
        )

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """Return the body received so far that was not taken yet; None at its end."""
        while not self._chunks:
            if self._complete:
                return None
            if self._error is not None:
                raise self._error
            self._readable = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._readable
            except TimeoutError as exc:
                raise httpx.ReadTimeout("the service stopped sending its answer") from exc
            finally:
                self._readable = None
        chunk = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    @property
    def finished(self) -> bool:
        """True once the whole response was received and taken."""
        return self._complete and not self._chunks

    def end(self) -> None:
        """Leave the exchange: any byte that arrives now is a protocol error."""
        self._head = None

    def close(self) -> None:
        """Close the connection."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception | None) -> None:
        """Close the connection; a response still awaited ends in `error`."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        if self._complete or self._error is not None:
            return
        failure = error or httpx.RemoteProtocolError("the service closed the connection")
        self._error = failure
        if self._head is not None and not self._head.done():
            self._head.set_exception(failure)
            # Retrieved by `response_head`, or by no one if the caller was cancelled.
            self._head.exception()
        self._wake()

    def _wake(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; closing it returns the connection."""

    def __init__(
        self, pool: InternalTransport, connection: _Connection, timeout: float | None
    ) -> None:
        self._pool = pool
        self._connection = connection
        self._timeout = timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives."""
        while (chunk := await self._connection.next_chunk(self._timeout)) is not None:
            yield chunk

    async def aclose(self) -> None:
        """Give the connection back: to the idle stack if its answer was whole, else closed."""
        if not self._released:
            self._released = True
            self._pool.release(self._connection)


class InternalTransport(httpx.AsyncBaseTransport):
    """httpx transport for the internal services: pooled HTTP/1.1 on `asyncio` protocols."""

    def __init__(
        self,
        *,
        max_connections: int = 200,
        max_idle: int = 50,
        idle_seconds: float = 60.0,
    ) -> None:
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        # `https://` (TLS between pods) and `HEAD` go through httpx's own transport.
        self._fallback = httpx.AsyncHTTPTransport()
        self._closed = False
        self._in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` on a pooled connection; return its response, body streamed."""
        url = request.url
        if url.scheme != "http" or request.method == "HEAD":
            return await self._fallback.handle_async_request(request)
        if self._closed:
            raise httpx.ConnectError("the internal client is closed")
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        message = _serialise(request, await request.aread())
        origin = (url.host, url.port or 80)
        try:
            async with asyncio.timeout(timeout.get("pool")):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no connection to the service came free in time") from exc
        self._in_flight += 1
        connection: _Connection | None = None
        try:
            connection = await self._connection(origin, timeout.get("connect"))
            connection.begin()
            assert connection.transport is not None
            connection.transport.write(message)
            body = _Body(self, connection, timeout.get("read"))
            return await connection.response_head(timeout.get("read"), body)
        except BaseException:
            if connection is not None:
                connection.close()
            self._in_flight -= 1
            self._slots.release()
            raise

    def release(self, connection: _Connection) -> None:
        """Take back a connection whose response was closed; keep it if it can serve again."""
        connection.end()
        self._in_flight -= 1
        self._slots.release()
        idle = self._idle.setdefault(connection.origin, [])
        if (
            connection.finished
            and connection.reusable
            and not connection.closed
            and not self._closed
            and len(idle) < self.max_idle
        ):
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            connection.close()

    def in_flight(self) -> int:
        """Return how many requests hold a connection (sent, answer not yet closed)."""
        return self._in_flight

    def idle_connections(self) -> int:
        """Return how many idle connections are kept that the service has not closed."""
        return sum(not c.closed for idle in self._idle.values() for c in idle)

    async def aclose(self) -> None:
        """Close every idle connection and the fallback transport."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
            idle.clear()
        await self._fallback.aclose()

    async def _connection(self, origin: tuple[str, int], timeout: float | None) -> _Connection:
        """Return the most recently used live idle connection to `origin`, or a new one."""
        idle = self._idle.get(origin)
        oldest = time.monotonic() - self.idle_seconds
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since > oldest:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, protocol = await loop.create_connection(lambda: _Connection(origin), *origin)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {origin[0]}:{origin[1]} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {origin[0]}:{origin[1]}: {exc}") from exc
        return protocol


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    """Return the request's head and body as sent; refuse a header that would break a line."""
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    count = 1
    sized = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            continue  # the body was read whole; it is sent with its length
        sized = sized or lowered == b"content-length"
        lines += (name, b": ", value, b"\r\n")
        count += 1
    if not sized and (body or request.method in ("POST", "PUT", "PATCH")):
        lines += (b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n")
        count += 1
    lines.append(b"\r\n")
    head = b"".join(lines)
    # Each line ends in the one CRLF put there above; any other CR, LF or NUL came in a value.
    if head.count(b"\n") != count + 1 or head.count(b"\r") != count + 1 or b"\0" in head:
        raise httpx.LocalProtocolError("a request header holds a line break or a NUL byte")
    return head + body

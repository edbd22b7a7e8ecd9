"""One pipelined Redis connection for a service's scripts on a hot path (ADR 0070, 0101).

Every read answered at the gateway's edge (`edge_reads`) runs one command, `EVALSHA`
of the read-model script, whose reply is a handful of values; every board update in
competitions runs one per board it changed. redis-py spends ~60-80 µs of CPU on such
a command (connection pool, retry wrapper, command packing, its reply parser, a
`drain` per command), and a pipeline of two about 250 µs; the command itself is a
few hundred bytes each way. `ScriptLine` keeps one connection of its own and sends
the commands of concurrent callers together, written once per event-loop turn, and
matches the replies in order (Redis answers a connection's commands in the order it
received them).

It speaks only what that needs: `EVALSHA` out, RESP2 replies in (the types a
script returns: nil, integers, bulk strings, arrays, errors). A URL it cannot
serve exactly (TLS) leaves it unused: `available` is False and callers go through
redis-py. Any failure (an error reply, a lost connection) raises to the caller; after a
lost connection the connection is opened again on the next command, and loads
the scripts. A `NOSCRIPT` for one of the line's own scripts (Redis lost them,
e.g. `SCRIPT FLUSH`) is not a failure: the script did not run, so the line opens
a new connection, which loads them, and runs the command once more.
`Scripts` runs a registered redis-py script on a line when there is one that
serves, else through redis-py: the one way callers choose between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis.asyncio.connection import SSLConnection, parse_url
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

#: How long opening the line may take before the edge gives the request to the route.
CONNECT_SECONDS = 2.0


class _Incomplete(Exception):
    """The buffer ends inside a reply."""


def encode_command(*parts: bytes | str | int) -> bytes:
    """Return a command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def parse_reply(buffer: bytes | bytearray, start: int = 0) -> tuple[Any, int]:
    """Return the RESP2 reply at `start` and where the next one begins.

    Values as redis-py returns them without decoding: bulk strings as bytes,
    nil as None, an error as a `ResponseError` (returned, not raised).
    Raises `_Incomplete` when the buffer ends inside the reply.
    """
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise _Incomplete
    kind, line, after = buffer[start], bytes(buffer[start + 1 : end]), end + 2
    if kind == 0x24:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Incomplete
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == 0x3A:  # : integer
        return int(line), after
    if kind == 0x2A:  # * array
        count = int(line)
        if count < 0:
            return None, after
        items = []
        for _ in range(count):
            item, after = parse_reply(buffer, after)
            items.append(item)
        return items, after
    if kind == 0x2B:  # + simple string
        return line, after
    if kind == 0x2D:  # - error
        return ResponseError(line.decode("utf-8", "replace")), after
    raise RedisConnectionError(f"unexpected reply type {chr(kind)!r}")


class _Protocol(asyncio.Protocol):
    """Replies matched to the commands waiting for them, in order."""

    def __init__(self) -> None:
        self.waiting: deque[asyncio.Future[Any]] = deque()
        #: Commands of this loop turn, written together by `ScriptLine._flush`.
        self.outgoing: list[bytes] = []
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        while start < len(buffer) and self.waiting:
            try:
                value, start_next = parse_reply(buffer, start)
            except _Incomplete:
                break
            except Exception as exc:  # a broken stream: nothing after it can be matched
                self._fail(RedisConnectionError(str(exc)))
                return
            start = start_next
            future = self.waiting.popleft()
            if not future.done():
                if isinstance(value, ResponseError):
                    future.set_exception(value)
                else:
                    future.set_result(value)
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError("the edge's Redis connection was lost"))

    def _fail(self, exc: Exception) -> None:
        self.lost = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


def _flush(protocol: _Protocol) -> None:
    """Write the commands of this loop turn in one write (a lost connection failed them)."""
    outgoing, protocol.outgoing = protocol.outgoing, []
    if protocol.transport is not None and not protocol.lost:
        protocol.transport.write(b"".join(outgoing))


def script_sha(script: str) -> str:
    """Return the name Redis gives a script, for `EVALSHA`: the SHA1 of its text."""
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


class ScriptLine:
    """A Redis connection of its own for one kind of command, pipelined across requests."""

    def __init__(self, url: str, scripts: Sequence[str] = ()) -> None:
        """Serve `url` (TLS: not available); `scripts` are loaded on each connection opened."""
        options = parse_url(url)
        self._scripts = tuple(scripts)
        self._shas = {script_sha(text) for text in self._scripts}
        self.available = options.get("connection_class") is not SSLConnection
        self._options = options
        self._protocol: _Protocol | None = None
        self._opening: asyncio.Lock | None = None

    async def evalsha(self, sha: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script `sha` with `keys` and `args`; return its reply.

        One of the line's scripts that Redis no longer has is loaded again (on a new
        connection) and run once more; any other `NOSCRIPT` raises.
        """
        try:
            return await self._evalsha(sha, keys, args)
        except ResponseError as exc:
            if not (str(exc).startswith("NOSCRIPT") and sha in self._shas):
                raise
        return await self._evalsha(sha, keys, args)

    async def _evalsha(self, sha: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Send one `EVALSHA` on the current connection; a `NOSCRIPT` retires that connection."""
        protocol = self._protocol
        if protocol is None or protocol.lost:
            protocol = await self._open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not protocol.outgoing:
            loop.call_soon(_flush, protocol)
        protocol.outgoing.append(encode_command(b"EVALSHA", sha, len(keys), *keys, *args))
        protocol.waiting.append(future)
        try:
            return await future
        except ResponseError as exc:
            if str(exc).startswith("NOSCRIPT") and protocol is self._protocol:
                # Redis lost the scripts but not the connection (SCRIPT FLUSH): the next
                # command opens a new one, which loads them again.
                protocol._fail(RedisConnectionError("the scripts are gone from Redis"))
            raise

    async def _open(self) -> _Protocol:
        """Connect (once at a time, within `CONNECT_SECONDS`), set up, load the scripts."""
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._protocol is not None and not self._protocol.lost:
                return self._protocol
            # An unreachable Redis fails the edge's reads fast: the route answers them.
            self._protocol = await asyncio.wait_for(self._connect(), CONNECT_SECONDS)
            return self._protocol

    async def _connect(self) -> _Protocol:
        """Open a connection, authenticate, select the database of the URL, load the scripts."""
        loop = asyncio.get_running_loop()
        options = self._options
        if "path" in options:
            _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
        else:
            host, port = options.get("host", "localhost"), options.get("port", 6379)
            _, protocol = await loop.create_connection(_Protocol, host, port)
        setup = []
        if options.get("password") is not None:
            user = options.get("username")
            credentials = (user, options["password"]) if user else (options["password"],)
            setup.append(encode_command(b"AUTH", *credentials))
        if options.get("db"):
            setup.append(encode_command(b"SELECT", options["db"]))
        # A new connection may be to a restarted server: its scripts are loaded again.
        setup += [encode_command(b"SCRIPT", b"LOAD", script) for script in self._scripts]
        replies = [loop.create_future() for _ in setup]
        protocol.waiting.extend(replies)
        if setup and protocol.transport is not None:
            protocol.transport.write(b"".join(setup))
        try:
            for reply in replies:
                await reply
        except BaseException:
            protocol._fail(RedisConnectionError("the edge's Redis connection was refused"))
            raise
        return protocol

    async def aclose(self) -> None:
        """Close the connection (commands waiting fail)."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)


class Scripts:
    """A service's registered redis-py scripts, run one way (ADR 0101).

    On `line` when one is given and serves its Redis, else through redis-py on
    `client` (None: the client each script was registered with). An error on the
    line raises; it is not retried.
    """

    __slots__ = ("client", "line")

    def __init__(self, client: Any = None, line: ScriptLine | None = None) -> None:
        self.client = client
        self.line = line if line is not None and line.available else None

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run `script` with `keys` and `args`; return its reply."""
        if self.line is not None:
            return await self.line.evalsha(script.sha, keys, args)
        return await script(keys, args, client=self.client)

"""A TCP link in front of one dependency that tests can cut, freeze and restore.

Fault tests put a `FaultLink` between a service and the real Postgres or Redis
they use, then break the link the way an outage would: `cut()` drops every
connection and turns new ones away (a stopped server), `freeze()` keeps
connections open but passes no byte either way (a stopped process or a stalled
network), `restore()` brings the link back. Nothing in the service is mocked:
its drivers see exactly what they would see in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class FaultLink:
    """Forwards local TCP connections to a target and breaks on request."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.state = "up"
        #: Connections turned away while the link was cut.
        self.refused = 0
        self.port = 0

    @classmethod
    def to_tcp(cls, host: str, port: int) -> FaultLink:
        """A link to `host:port`."""
        return cls(lambda: asyncio.open_connection(host, port))

    @classmethod
    def to_unix(cls, path: str) -> FaultLink:
        """A link to a Unix socket (embedded Postgres listens on one)."""
        return cls(lambda: asyncio.open_unix_connection(path))

    @classmethod
    def to_database(cls, url: str) -> FaultLink:
        """A link to the Postgres server of a SQLAlchemy URL (TCP or Unix socket)."""
        parsed = make_url(url)
        socket_dir = parsed.query.get("host")
        if isinstance(socket_dir, tuple):
            socket_dir = socket_dir[0]
        if socket_dir and str(socket_dir).startswith("/"):
            return cls.to_unix(str(Path(socket_dir) / f".s.PGSQL.{parsed.port or 5432}"))
        return cls.to_tcp(parsed.host or "127.0.0.1", parsed.port or 5432)

    @classmethod
    def to_redis(cls, url: str) -> FaultLink:
        """A link to the Redis server of a `redis://` URL."""
        parsed = urlsplit(url)
        return cls.to_tcp(parsed.hostname or "127.0.0.1", parsed.port or 6379)

    def redis_url(self, url: str) -> str:
        """Return a `redis://` URL with its server replaced by this link (same database)."""
        parsed = urlsplit(url)
        netloc = f"127.0.0.1:{self.port}"
        if parsed.password:
            netloc = f":{parsed.password}@{netloc}"
        return urlunsplit((parsed.scheme, netloc, parsed.path, parsed.query, ""))

    def database_url(self, url: str) -> str:
        """Return `url` with its server replaced by this link (same database and user)."""
        parsed = make_url(url)
        query = {k: v for k, v in parsed.query.items() if k != "host"}
        return parsed.set(host="127.0.0.1", port=self.port, query=query).render_as_string(
            hide_password=False
        )

    async def start(self) -> FaultLink:
        """Listen on a free local port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close the link and every connection through it."""
        self.restore()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._drop_all()

    def cut(self) -> None:
        """Drop every connection and turn new ones away until `restore()`."""
        self.state = "down"
        self._flowing.set()
        self._drop_all()

    def freeze(self) -> None:
        """Pass no byte in either direction until `restore()`; connections stay open."""
        self.state = "frozen"
        self._flowing.clear()

    def restore(self) -> None:
        """Forward again."""
        self.state = "up"
        self._flowing.set()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state == "down":
            self.refused += 1
            writer.transport.abort()
            return
        try:
            target_reader, target_writer = await self._connect()
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, target_writer}
        await asyncio.gather(
            self._pipe(reader, target_writer),
            self._pipe(target_reader, writer),
            return_exceptions=True,
        )
        for w in (writer, target_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            await self._flowing.wait()
            if not data or self.state == "down":
                break
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(Exception):
            writer.transport.abort()


__all__ = ["FaultLink"]

"""A loopback TCP proxy that speaks just enough of the Kafka protocol to lose one answer.

Requests and responses are length-prefixed frames; a request header starts with
the API key and the correlation id, a response header with the correlation id.
When armed, the proxy forwards a Produce request, lets the broker append and
answer, then closes the connection instead of passing that answer on: the
producer sees a dropped connection and must retry a record the log already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

PRODUCE = 0


async def _frame(reader: asyncio.StreamReader) -> bytes | None:
    """Read one size-prefixed frame; None at the end of the stream."""
    try:
        size = await reader.readexactly(4)
        return size + await reader.readexactly(struct.unpack(">i", size)[0])
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class AnswerDroppingProxy:
    """Forwards 127.0.0.1:`port` to the broker at `target_port`; can drop one Produce answer."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.produce_requests = 0
        self.dropped_answers = 0
        self._armed = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def drop_next_produce_answer(self) -> None:
        """Arm: the next Produce response is swallowed and its connection closed."""
        self._armed = True

    async def start(self, port: int = 0) -> None:
        """Listen on loopback (`port`, or a free one)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:  # the broker is not listening (yet): the client sees a closed socket
            client_w.close()
            return
        self._writers |= {client_w, broker_w}
        produce_ids: set[int] = set()

        async def upstream() -> None:
            while (frame := await _frame(client_r)) is not None:
                api_key, _version, correlation = struct.unpack(">hhi", frame[4:12])
                if api_key == PRODUCE:
                    produce_ids.add(correlation)
                    self.produce_requests += 1
                broker_w.write(frame)
                await broker_w.drain()

        async def downstream() -> None:
            while (frame := await _frame(broker_r)) is not None:
                (correlation,) = struct.unpack(">i", frame[4:8])
                if correlation in produce_ids and self._armed:
                    self._armed = False
                    self.dropped_answers += 1
                    return  # the broker appended; the producer never hears of it
                client_w.write(frame)
                await client_w.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_w, broker_w):
                self._writers.discard(writer)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

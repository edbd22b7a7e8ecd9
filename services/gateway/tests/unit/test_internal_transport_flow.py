"""The internal transport's connection reads no further than its buffer allows (ADR 0107)."""

from __future__ import annotations

import httpx
import pytest
from podium_gateway.clients.transport import _HIGH_WATER, _Connection

PIECE = b"x" * (_HIGH_WATER // 2)


class Socket:
    """Stands in for the event loop's transport: records pauses and writes."""

    def __init__(self) -> None:
        self.paused = False
        self.closed = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self) -> None:
        self.closed = True


async def test_reading_pauses_past_the_high_water_mark_and_resumes_when_the_body_is_taken() -> None:
    connection = _Connection(("service", 80))
    socket = Socket()
    connection.connection_made(socket)
    connection.begin()
    connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (5 * len(PIECE)))
    answer = await connection.response_head(1.0, httpx.ByteStream(b""))
    assert answer.status_code == 200

    connection.data_received(PIECE)
    connection.data_received(PIECE)
    assert not socket.paused  # at the mark, not past it
    connection.data_received(PIECE)
    assert socket.paused

    assert await connection.next_chunk(1.0) == PIECE * 3
    assert not socket.paused
    connection.data_received(PIECE * 2)
    assert await connection.next_chunk(1.0) == PIECE * 2
    assert await connection.next_chunk(1.0) is None
    assert connection.finished and connection.reusable and not socket.closed


@pytest.mark.parametrize("released", [False, True])
async def test_a_byte_after_the_answer_makes_the_connection_unusable(released: bool) -> None:
    connection = _Connection(("service", 80))
    socket = Socket()
    connection.connection_made(socket)
    connection.begin()
    connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await connection.response_head(1.0, httpx.ByteStream(b""))
    if released:
        assert await connection.next_chunk(1.0) == b"ok"
        connection.end()
    connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")
    assert connection.closed and socket.closed
    if not released:  # the answer's own body is kept whole, nothing of the stray one
        assert await connection.next_chunk(1.0) == b"ok"
        assert await connection.next_chunk(1.0) is None

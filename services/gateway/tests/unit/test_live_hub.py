"""A stream's buffer in the live hub: bounded, and ended streams say so (pure, no Redis)."""

from __future__ import annotations

import pytest
from podium_gateway.live_hub import (
    STREAM_BUFFER,
    LiveHub,
    StreamClosedError,
    StreamLimitError,
    Subscription,
)


async def test_messages_come_out_in_order_and_a_quiet_wait_returns_none() -> None:
    subscription = Subscription("u1", "live:u1")
    subscription.push(b"one")
    subscription.push(b"two")
    assert await subscription.next(timeout=0.01) == b"one"
    assert await subscription.next(timeout=0.01) == b"two"
    assert await subscription.next(timeout=0.01) is None


async def test_a_stream_that_falls_behind_is_ended_after_its_buffer() -> None:
    subscription = Subscription("u1", "live:u1")
    for n in range(STREAM_BUFFER + 1):
        subscription.push(str(n).encode())
    assert subscription.closed
    drained = [await subscription.next(timeout=0.01) for _ in range(STREAM_BUFFER)]
    assert drained[0] == b"0" and len(drained) == STREAM_BUFFER
    with pytest.raises(StreamClosedError):
        await subscription.next(timeout=0.01)


async def test_the_cap_is_checked_before_redis_is_asked() -> None:
    hub = LiveHub(client=None, max_streams_per_user=0)  # type: ignore[arg-type]
    with pytest.raises(StreamLimitError) as refused:
        await hub.open("u1", "live:u1")
    assert refused.value.limit == 0
    assert hub.open_streams == 0

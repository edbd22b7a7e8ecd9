"""The edge's pipelined Redis line against a real Redis: order, errors, reconnection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from podium_runtime.script_line import ScriptLine, Scripts, script_sha
from podium_runtime.testing import TestInfrastructure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

ECHO = "return {ARGV[1], redis.call('INCR', KEYS[1]), false}"
SHA = script_sha(ECHO)


async def test_concurrent_commands_get_their_own_replies_in_one_connection(
    test_infra: TestInfrastructure,
) -> None:
    line = ScriptLine(test_infra.infra.redis_url, [ECHO])
    key = f"t{uuid.uuid4().hex[:8]}:line"
    try:
        replies = await asyncio.gather(*(line.evalsha(SHA, [key], [f"n{i}"]) for i in range(200)))
    finally:
        await line.aclose()
    assert [reply[0] for reply in replies] == [f"n{i}".encode() for i in range(200)]
    assert sorted(reply[1] for reply in replies) == list(range(1, 201))
    assert all(reply[2] is None for reply in replies)


async def test_an_unknown_script_raises_and_the_line_goes_on(
    test_infra: TestInfrastructure,
) -> None:
    line = ScriptLine(test_infra.infra.redis_url, [ECHO])
    key = f"t{uuid.uuid4().hex[:8]}:line"
    try:
        with pytest.raises(ResponseError, match="NOSCRIPT"):
            await line.evalsha("0" * 40, [key], ["x"])
        assert (await line.evalsha(SHA, [key], ["y"]))[:2] == [b"y", 1]
    finally:
        await line.aclose()


@pytest.fixture
async def flushed(test_infra: TestInfrastructure) -> AsyncIterator[tuple[ScriptLine, str]]:
    """A line that ran its script once on key `key`, after which Redis forgot the script."""
    line = ScriptLine(test_infra.infra.redis_url, [ECHO])
    admin = redis.from_url(test_infra.infra.redis_url)
    key = f"t{uuid.uuid4().hex[:8]}:line"
    try:
        assert (await line.evalsha(SHA, [key], ["a"]))[1] == 1
        await admin.script_flush()  # the connection stays open; the script is gone
        yield line, key
    finally:
        await line.aclose()
        await admin.aclose()


async def test_a_script_redis_lost_is_loaded_again_and_each_command_runs_once(
    flushed: tuple[ScriptLine, str],
) -> None:
    line, key = flushed
    replies = await asyncio.gather(*(line.evalsha(SHA, [key], [f"b{i}"]) for i in range(3)))
    # Each got NOSCRIPT (it did not run), then ran once on the new connection.
    assert sorted(reply[1] for reply in replies) == [2, 3, 4]
    assert [reply[0] for reply in replies] == [b"b0", b"b1", b"b2"]


async def test_a_lost_connection_fails_its_commands_then_reconnects_with_its_scripts(
    flushed: tuple[ScriptLine, str],
) -> None:
    line, key = flushed
    protocol = line._protocol
    assert protocol is not None and protocol.transport is not None
    waiting = asyncio.ensure_future(line.evalsha(SHA, [key], ["b"]))
    await asyncio.sleep(0)  # queued on this connection
    protocol.transport.abort()
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(waiting, 5)
    # A new connection, with the script loaded again ("b" may have run before the loss:
    # a lost reply is why the edge leaves such a request to the route, ADR 0070).
    echoed, count, _ = await line.evalsha(SHA, [key], ["c"])
    assert echoed == b"c" and count in (2, 3)


def test_tls_urls_are_left_to_redis_py() -> None:
    assert not ScriptLine("rediss://localhost:6380/0").available
    assert ScriptLine("redis://localhost:6379/2").available


async def test_scripts_run_the_same_on_the_line_and_through_redis_py(
    test_infra: TestInfrastructure,
) -> None:
    client = redis.from_url(test_infra.infra.redis_url)
    line = ScriptLine(test_infra.infra.redis_url, [ECHO])
    script = client.register_script(ECHO)
    key = f"t{uuid.uuid4().hex[:8]}:line"
    try:
        on_line = Scripts(client, line)
        assert on_line.line is line
        assert (await on_line.run(script, [key], ["a"]))[:2] == [b"a", 1]
        # Without a line that serves the URL, the same script goes through redis-py.
        tls = Scripts(client, ScriptLine("rediss://localhost:6380/0"))
        assert tls.line is None
        assert (await tls.run(script, [key], ["b"]))[:2] == [b"b", 2]
        assert (await Scripts(client).run(script, [key], ["c"]))[:2] == [b"c", 3]
    finally:
        await line.aclose()
        await client.aclose()

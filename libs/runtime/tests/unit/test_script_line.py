"""The edge's Redis line writes commands and reads replies as Redis and redis-py do."""

from __future__ import annotations

import pytest
from podium_runtime.script_line import _Incomplete, encode_command, parse_reply
from redis.exceptions import ResponseError


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert encode_command(b"EVALSHA", "ab", 2, "k\u00e9") == (
        b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n$3\r\nk\xc3\xa9\r\n"
    )


def test_a_scripts_reply_parses_to_what_redis_py_returns() -> None:
    reply = b'*5\r\n$3\r\n{"a\r\n$-1\r\n$1\r\n1\r\n*-1\r\n*2\r\n:7\r\n:-59000\r\n+OK\r\n'
    value, end = parse_reply(reply)
    assert value == [b'{"a', None, b"1", None, [7, -59000]]
    assert parse_reply(reply, end) == (b"OK", len(reply))


def test_bulk_strings_may_hold_newlines_and_errors_are_returned() -> None:
    value, _ = parse_reply(b"$5\r\na\r\nbc\r\n")
    assert value == b"a\r\nbc"
    error, _ = parse_reply(b"-NOSCRIPT No matching script.\r\n")
    assert isinstance(error, ResponseError) and str(error).startswith("NOSCRIPT")


@pytest.mark.parametrize("cut", [1, 4, 9, 14, 19])
def test_a_reply_cut_anywhere_is_incomplete(cut: int) -> None:
    reply = b"*2\r\n$5\r\nhello\r\n:42\r\n"
    with pytest.raises(_Incomplete):
        parse_reply(reply[:cut])

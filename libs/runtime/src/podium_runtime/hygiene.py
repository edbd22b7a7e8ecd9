"""Input hygiene: text Postgres and UTF-8 cannot carry, and JSON nested too deep (SPEC §8).

Postgres refuses the NUL character in `text` and `jsonb`, and a lone UTF-16
surrogate (which JSON's `\\ud800` escape can produce) cannot be encoded as
UTF-8. Input holding either used to be accepted at the edge and fail later,
where it could only be dead-lettered. `unsafe_text_reason` finds them, and
`json_problem` also bounds the nesting of a document before anything walks it
recursively; `orjson_problem` answers the same for a document orjson parsed,
mostly without walking it. `ascii_int` reads an integer a client wrote in a header or query
string: ASCII digits only (`str.isdigit()` also accepts "²", which `int()`
refuses) and bounded, so it fits every store it reaches.
"""

from __future__ import annotations

import re
from typing import Any

#: Deepest nesting of objects and arrays a JSON document may have at the edge.
MAX_JSON_DEPTH = 32

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_ASCII_DIGITS = re.compile("[0-9]{1,16}")
#: Largest integer read from a client: exact in JSON clients, Lua and Postgres `bigint`.
MAX_CLIENT_INT = 2**53 - 1


def ascii_int(text: str, maximum: int = MAX_CLIENT_INT) -> int | None:
    """Return `text` as an integer in 0..`maximum` when it is plain ASCII digits, else None."""
    if _ASCII_DIGITS.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= maximum else None


def unsafe_text_reason(text: str) -> str | None:
    """Return why `text` cannot be stored (NUL or lone surrogate), or None when it can."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains the NUL character (\\u0000)"
    return "contains a lone UTF-16 surrogate"


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Return why a parsed JSON document is unsafe (too deep, bad text), or None.

    Walks iteratively, so a hostile depth cannot exhaust the stack before it is refused.
    Statements pass here by the thousand per second: each value carries only a link to
    its parent, and the path of the value at fault is spelled out once it is found.
    """
    search = _FORBIDDEN.search
    # (value, depth, trail): trail is None at the root, else (parent trail, key or index).
    pending: list[tuple[Any, int, Any]] = [(value, 1, None)]
    pop, push = pending.pop, pending.append
    while pending:
        current, depth, trail = pop()
        kind = type(current)
        if kind is str or isinstance(current, str):
            if search(current):
                return f"{_path(trail)} {unsafe_text_reason(current)}"
            continue
        if not isinstance(current, dict | list):
            continue
        if depth > max_depth:
            return f"{_path(trail)} is nested deeper than {max_depth} levels"
        if isinstance(current, dict):
            for key, item in current.items():
                if isinstance(key, str) and search(key):
                    return f"a key of {_path(trail)} {unsafe_text_reason(key)}"
                push((item, depth + 1, (trail, key)))
        else:
            for n, item in enumerate(current):
                push((item, depth + 1, (trail, n)))
    return None


def orjson_problem(text: bytes, document: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Return `json_problem(document)` for a `document` orjson parsed from `text` or wrote as it.

    Cheaper for the usual document: orjson refuses lone surrogates both ways, and
    JSON text carries NUL only as the escape `\\u0000`, so a text without that escape
    holds no text to refuse and only its depth is left. A text with no more opening
    brackets than `max_depth` cannot nest deeper; otherwise the depth is checked over
    the containers alone. A text with the escape, or a document nested too deep, is
    walked by `json_problem`, which decides and names the place at fault.
    """
    if b"\\u0000" in text:
        return json_problem(document, max_depth)
    if text.count(b"{") + text.count(b"[") <= max_depth:
        return None
    if _deeper_than(document, max_depth):
        return json_problem(document, max_depth)
    return None


def _deeper_than(document: Any, max_depth: int) -> bool:
    """True when objects and arrays nest deeper than `max_depth` (the root is level 1)."""
    level = [document] if type(document) in _CONTAINERS else []
    depth = 1
    while level:
        if depth > max_depth:
            return True
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) in _CONTAINERS
        ]
        depth += 1
    return False


#: The containers orjson parses JSON objects and arrays into.
_CONTAINERS = frozenset({dict, list})


def _path(trail: Any) -> str:
    """Spell a trail the way reports name a place: `$.key[0].other` (keys cut at 200)."""
    steps: list[Any] = []
    while trail is not None:
        trail, step = trail
        steps.append(step)
    path = "$"
    for step in reversed(steps):
        # An int step is an array index (object keys of parsed JSON are text).
        path = f"{path}[{step}]" if type(step) is int else f"{path}.{step}"[:200]
    return path


__all__ = [
    "MAX_CLIENT_INT",
    "MAX_JSON_DEPTH",
    "ascii_int",
    "json_problem",
    "orjson_problem",
    "unsafe_text_reason",
]

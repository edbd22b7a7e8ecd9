"""Ingest's storable-text check refuses exactly what the full JSON walk refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from podium_ingest.service import MAX_STATEMENT_DEPTH, _storable_text
from podium_runtime.hygiene import json_problem


def _nested(depth: int, wrap: Any = lambda v: {"a": v}) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = wrap(value)
    return value


STORABLE = [
    {"id": "1", "verb": {"display": {"en": "completed"}}},
    {"text": "a backslash then u0000: \\u0000 is six characters, not NUL"},
    {"text": "[[[[{{{{" * 20},  # brackets inside strings do not nest
    _nested(MAX_STATEMENT_DEPTH),  # as deep as allowed
    [_nested(MAX_STATEMENT_DEPTH - 1)],
    {"a": _nested(MAX_STATEMENT_DEPTH - 2), "b": _nested(MAX_STATEMENT_DEPTH - 2)},
    {"big": 2**70},  # beyond 64 bits: JSON allows it, orjson does not
]
REFUSED = [
    {"text": "nul \x00 inside"},
    {"key \x00": 1},
    {"text": "lone \ud800 surrogate"},
    _nested(MAX_STATEMENT_DEPTH + 1),
    {"list": _nested(MAX_STATEMENT_DEPTH, lambda v: [v])},
]


@pytest.mark.parametrize("statement", STORABLE)
def test_a_storable_statement_is_stored_as_its_json_text(statement: Any) -> None:
    assert json_problem(statement, max_depth=MAX_STATEMENT_DEPTH) is None
    assert json.loads(_storable_text(statement)) == statement


@pytest.mark.parametrize("statement", REFUSED)
def test_what_the_walk_refuses_is_refused(statement: Any) -> None:
    problem = json_problem(statement, max_depth=MAX_STATEMENT_DEPTH)
    assert problem is not None
    with pytest.raises(ValueError, match=r"NUL|surrogate|nested deeper") as refused:
        _storable_text(statement)
    assert str(refused.value) == problem


def test_the_text_is_orjsons_when_orjson_can_write_it() -> None:
    statement = {"id": "x", "result": {"score": {"scaled": 0.5}}, "name": "Zoë"}
    assert _storable_text(statement) == orjson.dumps(statement).decode()

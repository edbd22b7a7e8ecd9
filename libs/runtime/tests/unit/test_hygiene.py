"""`orjson_problem` answers what the full walk (`json_problem`) answers, for parsed JSON text."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from podium_runtime.hygiene import MAX_JSON_DEPTH, json_problem, orjson_problem


def _deep(levels: int, array: bool = False) -> bytes:
    """Return JSON text of `levels` objects (or arrays) nested around one string."""
    opening, closing = (b"[", b"]") if array else (b'{"a": ', b"}")
    return opening * levels + b'"leaf"' + closing * levels


TEXTS = [
    b'{"id": "1", "verb": {"display": {"en": "completed"}}}',
    b'[{"a": 1}, {"b": [1, 2, {"c": null}]}, "x", 3.5, true]',
    b'"just text"',
    b"17",
    b'{"text": "a backslash then u0000: \\\\u0000 is six characters, not NUL"}',
    b'{"text": "' + b"[[[[{{{{" * 20 + b'"}',  # brackets inside strings do not nest
    b'{"text": "nul \\u0000 inside"}',
    b'{"key \\u0000": 1}',
    b'[{"deep": [' + b'{"x": "\\u0000"}' + b"]}]",
    _deep(MAX_JSON_DEPTH),  # as deep as allowed
    _deep(MAX_JSON_DEPTH + 1),  # one level too deep
    b"[" + b", ".join([_deep(MAX_JSON_DEPTH - 2)] * 3) + b"]",
    b"[1, " + _deep(MAX_JSON_DEPTH - 1, array=True) + b"]",
    b'{"a": ' + _deep(MAX_JSON_DEPTH - 2) + b', "b": ' + _deep(MAX_JSON_DEPTH) + b"}",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_answer_as_the_walk(text: bytes) -> None:
    document = orjson.loads(text)
    assert orjson_problem(text, document) == json_problem(document)


def test_the_cases_refuse_what_they_should() -> None:
    answers = [orjson_problem(text, orjson.loads(text)) for text in TEXTS]
    refused = [answer for answer in answers if answer is not None]
    assert len(refused) == 5
    assert sum("NUL" in answer for answer in refused) == 3
    assert sum("nested deeper" in answer for answer in refused) == 2


def test_a_smaller_depth_is_honoured() -> None:
    text = b'{"agent": {"account": {"name": {"x": 1}}}}'
    document = orjson.loads(text)
    assert orjson_problem(text, document, max_depth=3) == json_problem(document, max_depth=3)
    assert orjson_problem(text, document, max_depth=3) is not None
    assert orjson_problem(text, document, max_depth=4) is None


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from("ab\x00[{é")),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet="ab\x00", max_size=2), children, max_size=3)
    ),
    max_leaves=60,
)


@given(JSON, st.integers(1, 8))
def test_random_documents(document: Any, max_depth: int) -> None:
    text = orjson.dumps(document)
    parsed = orjson.loads(text)
    assert orjson_problem(text, parsed, max_depth) == json_problem(parsed, max_depth)

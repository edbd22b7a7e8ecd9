"""The edge's hygiene check: unstorable text and deep JSON are named before a route runs."""

from __future__ import annotations

import json

import pytest
from podium_gateway.input_hygiene import body_problem, query_problem
from podium_runtime.hygiene import ascii_int


def scope(path: str = "/v1/competitions", query: bytes = b"") -> dict[str, object]:
    return {"type": "http", "path": path, "query_string": query, "headers": []}


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/v1/competitions", b"q=a%00b", "q"),
        ("/v1/competitions", b"a%00=1", "a\x00"),
        ("/v1/join/x\x00y", b"", "path"),
    ],
)
def test_nul_in_the_path_or_query_is_named(path: str, query: bytes, field: str) -> None:
    found = query_problem(scope(path, query))
    assert found is not None and found[0] == field and "NUL" in found[1]


def test_a_surrogate_in_a_url_is_read_as_a_replacement_character() -> None:
    """Invalid UTF-8 in a URL decodes to U+FFFD, which is storable: no problem."""
    assert query_problem(scope(query=b"q=a%ED%A0%80b&limit=5")) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"display_name": "a\\u0000b"}', "display_name"),
        (b'{"title": "a\\ud800b"}', "title"),
        (json.dumps({"rules": {"points": [{"verb": "x\u0000"}]}}).encode(), "rules.points[0].verb"),
        (b"[" * 40 + b"]" * 40, ""),
    ],
)
def test_unstorable_json_bodies_are_named(body: bytes, field: str) -> None:
    found = body_problem(body)
    assert found is not None, body[:40]
    assert found[0].startswith(field) or field == ""


@pytest.mark.parametrize("body", [b'{"title": "fine"}', b"", b"{not json", b'"text"'])
def test_safe_or_unparsable_bodies_are_left_to_the_route(body: bytes) -> None:
    assert body_problem(body) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        (str(2**53 - 1), 2**53 - 1),
        (str(2**53), None),
        ("²", None),
        ("٣", None),
        ("9" * 5000, None),
        ("-1", None),
        ("", None),
        (" 1", None),
    ],
)
def test_ascii_int_reads_only_bounded_ascii_digits(text: str, value: int | None) -> None:
    assert ascii_int(text) == value

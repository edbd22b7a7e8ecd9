"""xAPI statement validation on the spec examples and the equivalence rule (pure, no I/O)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from podium_gateway.xapi.domain import canonical, content_hash, equivalent, prepare_statement
from podium_gateway.xapi.models import StatementError, validate_statement

#: The spec examples are shared with the end-to-end LRS tests at the repository root.
EXAMPLES = Path(__file__).resolve().parents[4] / "tests" / "xapi_examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "http://lrs.test", "name": "tool"}}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_spec_examples_are_valid_and_survive_storage_equivalently(path: Path) -> None:
    raw = _load(path)
    validate_statement(raw)
    stored = prepare_statement(raw, datetime.now(UTC), AUTHORITY)
    validate_statement(stored)  # what the LRS returns is itself a valid statement
    assert equivalent(raw | {"id": stored["id"]}, stored)
    assert stored["authority"] == AUTHORITY and stored["version"] == raw.get("version", "1.0.0")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_documented_invalid_shapes_are_rejected_with_a_reason(path: Path) -> None:
    with pytest.raises(StatementError) as caught:
        validate_statement(_load(path))
    assert caught.value.errors and all(e["message"] for e in caught.value.errors)


def test_error_names_the_field_and_the_rule() -> None:
    raw = _load(EXAMPLES / "invalid" / "scaled_above_one.json")
    with pytest.raises(StatementError) as caught:
        validate_statement(raw, index=3)
    assert caught.value.errors[0]["field"] == "[3].result.score.scaled"


# --- equivalence (xAPI Data 2.3.1) ---------------------------------------------------

iris = st.builds(lambda s: f"http://example.com/{s}", st.text("abcdefgh0123", min_size=1))
agents = st.one_of(
    st.builds(lambda s: {"mbox": f"mailto:{s}@example.com"}, st.text("abcxyz", min_size=1)),
    st.builds(
        lambda s: {"account": {"homePage": "http://lms.example.com", "name": s}},
        st.text("abc123", min_size=1),
    ),
)
scores = st.fixed_dictionaries(
    {}, optional={"scaled": st.floats(-1, 1, allow_nan=False), "raw": st.integers(0, 10)}
)
statements = st.fixed_dictionaries(
    {
        "actor": agents,
        "verb": st.builds(lambda i: {"id": i, "display": {"en-US": "did"}}, iris),
        "object": st.builds(
            lambda i, n: {"id": i, "definition": {"name": {"en-US": n}}}, iris, st.text()
        ),
        "timestamp": st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(lambda d: d.isoformat(timespec="milliseconds")),
    },
    optional={
        "result": st.fixed_dictionaries(
            {}, optional={"score": scores, "success": st.booleans(), "response": st.text()}
        ),
        "context": st.fixed_dictionaries(
            {}, optional={"registration": st.uuids().map(str), "platform": st.text(min_size=1)}
        ),
    },
)


def _reserialised(statement: dict[str, Any], shift_hours: int) -> dict[str, Any]:
    """The same statement as another client might serialise it: key order, offsets, case."""
    other = json.loads(json.dumps(statement, sort_keys=True))
    other = dict(reversed(list(other.items())))
    moment = datetime.fromisoformat(statement["timestamp"])
    zone = timezone(timedelta(hours=shift_hours))
    other["timestamp"] = moment.astimezone(zone).isoformat(timespec="microseconds")
    other["verb"]["display"] = {"fr-FR": "a fait"}
    other["object"]["definition"] = {"description": {"en-US": "changed"}}
    if "context" in other and "registration" in other["context"]:
        other["context"]["registration"] = other["context"]["registration"].upper()
    other["id"] = str(uuid.uuid4())
    other["stored"] = "2030-01-01T00:00:00Z"
    other["version"] = "1.0.3"
    other["authority"] = AUTHORITY
    return other


@given(statements, st.integers(-12, 14))
def test_serialisation_and_lrs_assigned_differences_are_ignored(
    statement: dict[str, Any], shift: int
) -> None:
    validate_statement(statement)
    other = _reserialised(statement, shift)
    assert equivalent(statement, other)
    assert content_hash(statement) == content_hash(other)


@given(statements, st.sampled_from(["actor", "verb", "object", "timestamp", "result", "extra"]))
def test_any_meaningful_difference_is_detected(statement: dict[str, Any], part: str) -> None:
    changed = copy.deepcopy(statement)
    if part == "actor":
        changed["actor"] = {"mbox": "mailto:someone-else@example.org"}
    elif part == "verb":
        changed["verb"]["id"] += "/other"
    elif part == "object":
        changed["object"]["id"] += "/other"
    elif part == "timestamp":
        moment = datetime.fromisoformat(statement["timestamp"]) + timedelta(milliseconds=1)
        changed["timestamp"] = moment.isoformat(timespec="milliseconds")
    elif part == "result":
        changed["result"] = {**statement.get("result", {}), "completion": True}
        changed["result"]["completion"] = not statement.get("result", {}).get("completion", False)
    else:
        changed["context"] = {**statement.get("context", {}), "language": "en-zz"}
    assert not equivalent(statement, changed)
    assert content_hash(statement) != content_hash(changed)


@given(statements)
def test_equivalence_is_reflexive_and_symmetric(statement: dict[str, Any]) -> None:
    other = _reserialised(statement, 3)
    assert equivalent(statement, statement)
    assert equivalent(statement, other) == equivalent(other, statement)
    assert canonical(statement) == canonical(copy.deepcopy(statement))


@given(statements)
def test_the_comparison_form_leaves_the_statement_alone(statement: dict[str, Any]) -> None:
    prepared = prepare_statement(statement, datetime(2024, 1, 1, tzinfo=UTC), AUTHORITY)
    before = copy.deepcopy(prepared)
    canonical(prepared)["actor"]["objectType"] = "edited"
    content_hash(prepared)
    assert prepared == before


#: Every gateway replica claims ids under these hashes in Redis (claims.py): a release
#: that hashed differently would see its own retries as conflicts during a rollout.
PINNED_HASHES = {
    "agent_object": "247f35b7c283be731ac08f432d05fee734e1acc8911e18267f1617e001716fe6",
    "anonymous_group": "90ba213c40c248d020c9b679a729058787fa8e8a88f3f045a86bf6369bb60285",
    "attachment_by_url": "834e5542fe37eb6eca36c2919993fb1a8de643ada934936d12dd915b7ace452e",
    "choice_interaction": "d510e0a3a813e16870d9f75a19bf34836d25ae9ed9a568ae89adb1fd9104f31a",
    "completion_with_result": "2b0415e20bf9401d3d07d187a0adb529d11a07c5f77c358e7b30a1cf83a0923c",
    "context_single_activity": "3d3fb23f328f59fdd0797958b2e81a49fa4063003df88afbcc54cf09c71953aa",
    "long_example": "0dbae363b8ee33a4193f6fb189fe16d1603499e58507d5b32b7af5addd4d1c88",
    "score_range": "85012b187e238db440070b772696a5121194028a4a944c5a304ad75f7e065610",
    "simplest": "c3e376af7b7cbd03330605554a262ef28a9826c53b132c427bb0958597d122d6",
    "substatement": "b69258ddad1b4b95da08ef18cfc385ca400c67a2e02ed109e7fdc2d65a2df729",
    "version_103": "c8bcd86e7bdfb85b06bf3cc695b3b018eccc176b83d441d254f4fed30ab9f30b",
    "voiding": "6b04f54ff3f0faac85cab8226d8faa14af22e3e071c12e1abccb6c3fc6385d00",
}


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_content_hashes_stay_those_replicas_already_claimed(name: str) -> None:
    raw = _load(EXAMPLES / "valid" / f"{name}.json")
    prepared = prepare_statement(raw, datetime(2024, 1, 1, tzinfo=UTC), AUTHORITY)
    assert content_hash(prepared) == PINNED_HASHES[name]


def test_lrs_filled_timestamp_is_not_content() -> None:
    raw = _load(EXAMPLES / "valid" / "agent_object.json")
    first = prepare_statement(raw, datetime(2024, 1, 1, tzinfo=UTC), AUTHORITY)
    retried = prepare_statement(raw, datetime(2024, 1, 2, tzinfo=UTC), AUTHORITY)
    assert first["timestamp"] != retried["timestamp"]
    assert content_hash(first) == content_hash(retried)
    assert content_hash(first) != content_hash({**raw, "timestamp": "2024-01-01T00:00:00Z"})


# --- patterns checked in pydantic's core -----------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"verb": {"id": "completed"}}, "verb.id", "'completed' is not an IRI"),
        ({"actor": {"mbox": "learner@example.com"}}, "actor.mbox", "is not a mailto: IRI"),
        ({"actor": {"mbox_sha1sum": "abc"}}, "actor.mbox_sha1sum", "40 hexadecimal characters"),
        ({"id": "not-a-uuid"}, "id", "'not-a-uuid' is not a UUID in its hyphenated form"),
        # uuid.UUID itself would take these; the stored form is hyphenated, nothing around it.
        ({"id": f"{{{uuid.uuid4()}}}"}, "id", "is not a UUID in its hyphenated form"),
        ({"id": f"{uuid.uuid4()}}}"}, "id", "is not a UUID in its hyphenated form"),
        # A trailing newline is not part of an IRI ("$" alone would let it through).
        ({"object": {"id": "http://example.com/a\n"}}, "object.id", "is not an IRI"),
        (
            {"verb": {"id": "http://example.com/v", "display": {"en us": "x"}}},
            "verb.display.en us.[key]",
            "'en us' is not an RFC 5646 language tag",
        ),
    ],
)
def test_a_pattern_mismatch_names_the_value_and_what_it_should_be(
    change: dict[str, Any], field: str, message: str
) -> None:
    raw = {
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": "http://example.com/verbs/completed"},
        "object": {"id": "http://example.com/activities/a"},
    } | change
    with pytest.raises(StatementError) as caught:
        validate_statement(raw)
    assert [e["field"] for e in caught.value.errors] == [field]
    assert message in caught.value.errors[0]["message"]


def test_a_null_is_rejected_at_any_depth_but_inside_extensions() -> None:
    raw = _load(EXAMPLES / "valid" / sorted(p.name for p in VALID)[0])
    deep = copy.deepcopy(raw) | {"context": {"contextActivities": {"parent": [{"id": None}]}}}
    with pytest.raises(StatementError, match=r"contextActivities\.parent\[0\]\.id is null"):
        validate_statement(deep)
    allowed = copy.deepcopy(raw) | {
        "result": {"extensions": {"http://example.com/x": {"nested": None, "list": [None]}}}
    }
    validate_statement(allowed)

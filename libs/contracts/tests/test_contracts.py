"""Contract tests: envelopes round-trip, topics are declared, schemas evolve compatibly."""

from __future__ import annotations

import copy
import hashlib
import json
import struct
import uuid
from pathlib import Path

import pytest
from podium_contracts import ALL_EVENTS, ALL_TOPICS, parse_event, topic_for
from podium_contracts.events import (
    _ADAPTER,
    JoinData,
    JoinRequested,
    LearningBatchData,
    LearningData,
    StatementsData,
    StatementsReceived,
    StatementsRecorded,
)
from podium_contracts.schemas import (
    check_against_snapshots,
    current_schemas,
    incompatibilities,
    load_snapshots,
    write_snapshots,
)
from podium_contracts.statement_index import INDEX_HASHES, index_positions, packed_positions
from pydantic import ValidationError


def _join() -> JoinRequested:
    return JoinRequested(
        producer="gateway",
        correlation_id="req-1",
        data=JoinData(request_id=uuid.uuid4(), competition_id=uuid.uuid4(), user_id=uuid.uuid4()),
    )


def test_envelope_round_trips_through_json() -> None:
    event = _join()
    parsed = parse_event(event.model_dump_json())
    assert parsed == event
    assert isinstance(parsed, JoinRequested)


def test_partition_key_is_the_declared_field() -> None:
    event = _join()
    assert topic_for(event).name == "podium.joins"
    assert event.partition_key() == str(event.data.competition_id)


def test_unknown_version_is_refused() -> None:
    raw = json.loads(_join().model_dump_json())
    raw["version"] = 2
    with pytest.raises(ValidationError):
        parse_event(json.dumps(raw))


def test_consumers_ignore_unknown_fields() -> None:
    raw = json.loads(_join().model_dump_json())
    raw["data"]["added_later"] = "x"
    assert isinstance(parse_event(json.dumps(raw)), JoinRequested)


def _recorded() -> StatementsRecorded:
    fact = LearningData(
        actor="mbox:mailto:a@example.com",
        statement_id=uuid.uuid4(),
        verb="http://adlnet.gov/expapi/verbs/completed",
        timestamp="2026-12-04T07:00:00.123+02:00",
        scaled_score=0.5,
        success=True,
        lrs_client_id=uuid.uuid4(),
    )
    return StatementsRecorded(
        producer="ingest",
        correlation_id="c",
        data=LearningBatchData(actor=fact.actor, facts=[fact]),
    )


def _received() -> StatementsReceived:
    statement = {"id": str(uuid.uuid4()), "result": {"score": {"raw": 1.0}}, "extensions": None}
    return StatementsReceived(
        producer="gateway",
        correlation_id="c",
        data=StatementsData(actor="a", lrs_client_id=uuid.uuid4(), statements=[statement]),
    )


#: JSON-level edits of an event's text: forms the two parsing paths could take differently.
_EDITS = [
    lambda d: d,
    lambda d: d["data"].update(user_id=str(d["data"]["user_id"]).upper()),
    lambda d: d.update(occurred_at="2026-12-04T08:00:00+05:30"),
    lambda d: d.update(occurred_at="2026-12-04T08:00:00"),  # no offset: refused
    lambda d: d.update(occurred_at=1_764_835_200),  # a number of seconds
    lambda d: d.update(version="1"),
    lambda d: d.update(id="not-a-uuid"),
    lambda d: d["data"].pop("competition_id"),
    lambda d: d["data"].update(competition_id=None),
    lambda d: d["data"].update(request_id=12),
    lambda d: d.update(producer=7),
    lambda d: d.update(causation_id=None, unknown={"x": [1, 2]}),
]
_RECORDED_EDITS = [
    lambda d: d["data"]["facts"][0].update(scaled_score=1),  # an integer for a float
    lambda d: d["data"]["facts"][0].update(scaled_score="0.5"),
    lambda d: d["data"]["facts"][0].update(success="true"),
    lambda d: d["data"]["facts"][0].update(success=1),
    lambda d: d["data"].update(facts=[]),
]
_RECEIVED_EDITS = [
    lambda d: d["data"]["statements"][0].update(big=2**70),  # beyond orjson's integers
    lambda d: d["data"]["statements"][0].update(text="\ud800"),  # a lone surrogate
    lambda d: d["data"].update(statements={"not": "a list"}),
]


def _both_paths(raw: str) -> tuple[object, object]:
    def outcome(parse):  # type: ignore[no-untyped-def]
        try:
            return parse(raw)
        except ValidationError as exc:
            return ("refused", [(e["loc"], e["type"]) for e in exc.errors()])

    return outcome(parse_event), outcome(_ADAPTER.validate_json)


@pytest.mark.parametrize(
    ("event", "edit"),
    [(_join, e) for e in _EDITS]
    + [(_recorded, e) for e in _RECORDED_EDITS]
    + [(_received, e) for e in _RECEIVED_EDITS],
)
def test_parse_event_accepts_and_refuses_what_the_union_does(event, edit) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(event().model_dump_json())
    edit(document)
    raw = json.dumps(document)
    direct, union = _both_paths(raw)
    assert direct == union


def test_parse_event_validates_a_known_event_without_the_union(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from podium_contracts import events

    monkeypatch.setattr(events, "_ADAPTER", None)  # the direct path must not need it
    for event in (_join(), _recorded(), _received()):
        assert parse_event(event.model_dump_json()) == event


def test_parse_event_reads_integers_beyond_64_bits() -> None:
    document = json.loads(_received().model_dump_json())
    document["data"]["statements"][0]["big"] = 2**70
    parsed = parse_event(json.dumps(document))
    assert isinstance(parsed, StatementsReceived)
    assert parsed.data.statements[0]["big"] == 2**70


def test_events_are_frozen() -> None:
    event = _join()
    with pytest.raises(ValidationError):
        event.producer = "other"  # type: ignore[misc]


def test_every_event_is_on_a_topic_whose_key_it_carries() -> None:
    for cls in ALL_EVENTS:
        topic = topic_for(cls)
        data_cls = cls.model_fields["data"].annotation
        assert topic.key in data_cls.model_fields, (cls.__name__, topic.key)  # type: ignore[union-attr]


def test_topics_have_unique_names_and_dead_letters() -> None:
    names = [t.name for t in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(t.dead_letter == f"{t.name}.dlq" for t in ALL_TOPICS)


def test_committed_schemas_match_the_models() -> None:
    """Fails when a model changed and `make contracts` was not run."""
    assert load_snapshots() == current_schemas(), "run `make contracts` and commit the schemas"


def test_committed_schemas_are_compatible() -> None:
    assert check_against_snapshots(load_snapshots()) == {}


def test_adding_an_optional_field_is_compatible() -> None:
    old = current_schemas()["join.requested.v1"]
    new = copy.deepcopy(old)
    new["$defs"]["JoinData"]["properties"]["note"] = {"type": "string", "default": ""}
    assert incompatibilities(old, new) == []


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda d: d["properties"].pop("invite_code"), "data.invite_code: property removed"),
        (
            lambda d: d["properties"].__setitem__("user_id", {"type": "integer"}),
            "data.user_id: type changed",
        ),
        (
            lambda d: (
                d["properties"].__setitem__("x", {"type": "string"}),
                d["required"].append("x"),
            ),
            "data.x: new required property",
        ),
        (
            lambda d: (
                d["properties"].__setitem__("invite_code", {"type": "string"}),
                d["required"].append("invite_code"),
            ),
            "data.invite_code: type changed",
        ),
    ],
)
def test_incompatible_changes_are_caught(mutation, expected) -> None:  # type: ignore[no-untyped-def]
    old = current_schemas()["join.requested.v1"]
    new = copy.deepcopy(old)
    mutation(new["$defs"]["JoinData"])
    assert expected in incompatibilities(old, new)


def test_make_contracts_refuses_a_broken_snapshot_dir(tmp_path: Path) -> None:
    """A deliberately broken copy: the snapshot has a field the model no longer has."""
    write_snapshots(tmp_path)
    path = tmp_path / "join.requested.v1.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["JoinData"]["properties"]["priority"] = {"type": "integer"}
    path.write_text(json.dumps(schema))
    with pytest.raises(SystemExit, match="priority: property removed"):
        write_snapshots(tmp_path)


def test_index_positions_are_the_blake2b_slices_of_the_ids_bytes_in_every_form() -> None:
    """The positions are a stored format: filters built earlier must keep answering."""
    for _ in range(200):
        value = uuid.uuid4()
        digest = hashlib.blake2b(value.bytes, digest_size=4 * INDEX_HASHES).digest()
        expected = list(struct.unpack(f">{INDEX_HASHES}I", digest))
        for form in (value, str(value), str(value).upper(), f"{{{value}}}", value.hex):
            assert index_positions(form) == expected
    for bad in ("x" * 36, "g" + str(uuid.uuid4())[1:], "1234"):
        with pytest.raises(ValueError):
            index_positions(bad)


def test_packed_positions_are_each_ids_positions_as_big_endian_words() -> None:
    ids = [uuid.uuid4() for _ in range(50)]
    packed = packed_positions([ids[0], str(ids[1]).upper(), *ids[2:]])
    words = list(struct.unpack(f">{len(packed) // 4}I", packed))
    assert words == [p for i in ids for p in index_positions(i)]
    assert packed_positions([]) == b""

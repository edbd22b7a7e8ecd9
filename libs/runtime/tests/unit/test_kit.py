"""The runtime's pure kit: cursors, time zones and service errors (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from podium_runtime.cursors import CursorCodec, InvalidCursor
from podium_runtime.problems import NotFoundError, Problem, ServiceError
from podium_runtime.timezones import is_iana_zone, local_day, local_day_bounds, zone


def test_cursor_round_trips_its_values() -> None:
    codec = CursorCodec(datetime, uuid.UUID)
    at, row_id = datetime(2026, 3, 1, 12, tzinfo=UTC), uuid.uuid4()
    assert codec.decode(codec.encode(at, row_id)) == (at, row_id)
    assert codec.decode_optional(None) is None and codec.decode_optional("") is None


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "!!!", CursorCodec(int).encode(3), CursorCodec(str, str).encode("a", "b")],
)
def test_anything_else_is_400_invalid_cursor(garbage: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        CursorCodec(datetime, uuid.UUID).decode(garbage)
    assert (caught.value.status, caught.value.code) == (400, "INVALID_CURSOR")


def test_an_offset_cursor_refuses_negative_and_boolean_values() -> None:
    codec = CursorCodec(int)
    assert codec.decode(codec.encode(40)) == (40,)
    for bad in (-1, True):
        with pytest.raises(InvalidCursor):
            codec.decode(codec.encode(bad))


def test_time_zones_and_local_days() -> None:
    assert is_iana_zone("Europe/Berlin") and is_iana_zone("UTC")
    assert not is_iana_zone("Mars/Olympus") and not is_iana_zone("../../etc/passwd")
    assert zone("Mars/Olympus").key == "UTC" and zone(None).key == "UTC"
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert local_day(late, "Asia/Tokyo") == date(2026, 3, 2)
    start, end = local_day_bounds(date(2026, 3, 29), "Europe/Berlin")
    assert (end - start).total_seconds() == 23 * 3600  # spring forward


def test_service_errors_carry_status_and_code() -> None:
    refused = NotFoundError("THING_NOT_FOUND", "no such thing")
    assert isinstance(refused, ServiceError)
    assert refused.body()["status"] == 404 and refused.body()["code"] == "THING_NOT_FOUND"
    relayed = Problem(409, "CONFLICT", "state")
    assert isinstance(relayed, ServiceError) and relayed.status == 409

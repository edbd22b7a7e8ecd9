"""The runtime's pure kit: cursors, time zones and service errors (no I/O)."""

from __future__ import annotations

import base64
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


def _raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("codec", "raw"),
    [
        (CursorCodec(int), "[true]"),
        (CursorCodec(int), f"[{2**53}]"),
        (CursorCodec(int), "[" + "9" * 4000 + "]"),
        (CursorCodec(int), "[1e400]"),
        (CursorCodec(datetime, uuid.UUID), f'["0001-01-01T00:00:00+14:00", "{uuid.uuid4()}"]'),
        (CursorCodec(datetime, uuid.UUID), f'["9999-12-31T23:59:59-14:00", "{uuid.uuid4()}"]'),
        (CursorCodec(datetime, uuid.UUID), f'["2026-03-01T12:00:00", "{uuid.uuid4()}"]'),
        (CursorCodec(str), '["' + "a" * 600 + '"]'),
    ],
    ids=["bool", "past-2^53", "4000-digits", "inf", "year-0", "year-10000", "naive", "long"],
)
def test_out_of_range_cursor_values_are_400_invalid_cursor(codec: CursorCodec, raw: str) -> None:
    """Regression: these reached Redis or Postgres and answered 500."""
    with pytest.raises(InvalidCursor):
        codec.decode(_raw_cursor(raw))


def test_cursor_instants_come_back_in_utc() -> None:
    codec = CursorCodec(datetime)
    (back,) = codec.decode(_raw_cursor('["2026-03-01T12:00:00+14:00"]'))
    assert back == datetime(2026, 2, 28, 22, tzinfo=UTC) and back.tzinfo is UTC
    assert codec.decode(codec.encode(datetime(2026, 3, 1, tzinfo=UTC))) == (
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    (largest,) = CursorCodec(int).decode(CursorCodec(int).encode(2**53 - 1))
    assert largest == 2**53 - 1


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

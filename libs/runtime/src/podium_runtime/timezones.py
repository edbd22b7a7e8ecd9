"""IANA time zones and local days: the one helper every service uses (pure, no I/O).

A zone name is valid when zoneinfo knows it ('Mars/Olympus' is not). Readers of
stored names fall back to UTC for a name this machine does not know, so a
stale projection never breaks a consumer. Local days follow the wall clock:
on a DST change a day lasts 23 or 25 hours.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_iana_zone(name: str) -> bool:
    """Tell whether `name` is an IANA zone this machine knows."""
    if name != "UTC" and name not in _known_zones():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=512)
def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """Return the IANA zone `name`; a missing or unknown name falls back to UTC."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_day(at: datetime, timezone: str | zoneinfo.ZoneInfo | None) -> date:
    """Return the calendar day an aware instant falls on in `timezone`."""
    tz = timezone if isinstance(timezone, zoneinfo.ZoneInfo) else zone(timezone)
    return at.astimezone(tz).date()


def local_day_bounds(
    day: date, timezone: str | zoneinfo.ZoneInfo | None
) -> tuple[datetime, datetime]:
    """Return the UTC instants where a local day begins and where the next one begins.

    zoneinfo resolves local midnight with fold 0, so the bounds follow the wall
    clock, not a fixed 24 hours.
    """
    tz = timezone if isinstance(timezone, zoneinfo.ZoneInfo) else zone(timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)

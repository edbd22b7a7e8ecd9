"""Pure notification rules: rank filter, debounce, local days across DST, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jinja2 import DictLoader, Environment
from podium_notifier import domain
from podium_notifier.api import INBOX_CURSOR
from podium_notifier.mail import EmailRenderer, TemplateFailed
from podium_runtime.problems import Problem
from podium_runtime.timezones import zone

NEW_YORK = zone("America/New_York")


@pytest.mark.parametrize(
    ("old", "new", "notable"),
    [
        (None, 3, True),  # first ranking inside the top 10
        (None, 40, False),
        (12, 10, True),  # entered the top 10
        (10, 11, True),  # left it
        (4, 6, True),  # a drop inside the top 10
        (30, 35, True),  # a drop outside
        (6, 2, False),  # rises inside are quiet
        (50, 20, False),
        (8, None, True),  # dropped off the board
        (None, None, False),
    ],
)
def test_rank_change_filter(old: int | None, new: int | None, notable: bool) -> None:
    assert domain.rank_change_is_notable(old, new) is notable


def test_debounce_window() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    window = timedelta(minutes=30)
    assert domain.rank_change_is_debounced(now - timedelta(minutes=29), now, window)
    assert not domain.rank_change_is_debounced(now - timedelta(minutes=30), now, window)
    assert not domain.rank_change_is_debounced(None, now, window)


@pytest.mark.parametrize(
    ("day", "hours"), [("2026-03-08", 23), ("2026-11-01", 25), ("2026-06-15", 24)]
)
def test_local_days_are_23_24_or_25_hours_long(day: str, hours: int) -> None:
    noon = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=NEW_YORK)
    local = domain.local_day(noon.astimezone(UTC), NEW_YORK)
    assert local.day.isoformat() == day
    assert local.end - local.start == timedelta(hours=hours)


def test_reminder_is_due_from_1800_local_until_midnight() -> None:
    tokyo = zone("Asia/Tokyo")
    assert domain.reminder_due(datetime(2026, 6, 15, 8, 59, tzinfo=UTC), tokyo, 18) is None
    due = domain.reminder_due(datetime(2026, 6, 15, 9, 0, tzinfo=UTC), tokyo, 18)
    assert due is not None and due.day.isoformat() == "2026-06-15"
    assert domain.reminder_instant(due.day, 18, NEW_YORK) == datetime(2026, 6, 15, 22, tzinfo=UTC)


def test_unknown_timezone_falls_back_to_utc() -> None:
    assert zone("Mars/Olympus_Mons").key == "UTC"
    assert zone(None).key == "UTC"


def test_preferences_merge_over_defaults() -> None:
    matrix = domain.effective_preferences({("submission.scored", "email"): False})
    assert matrix["submission.scored"] == {"in_app": True, "email": False}
    assert matrix["leaderboard.rank_changed"]["email"] is False  # noisy: off by default
    assert matrix["reminder.daily"] == {"in_app": True, "email": True}
    assert not domain.MANDATORY_TYPES & set(matrix)  # account mails cannot be switched off


def test_templates_render_text_and_escaped_html() -> None:
    mail = EmailRenderer().render(
        "notification",
        {"display_name": "<Ada>", "title": "Hi", "body": "1 < 2", "link": "http://x/y"},
    )
    assert mail.subject == "Hi"
    assert "1 < 2" in mail.text_body and "1 &lt; 2" in mail.html_body
    assert "&lt;Ada&gt;" in mail.html_body


def test_a_broken_or_missing_template_is_reported_not_raised_raw() -> None:
    broken = EmailRenderer(
        Environment(autoescape=True, loader=DictLoader({"x.subject.txt": "{% if %}"}))
    )
    with pytest.raises(TemplateFailed):
        broken.render("x", {})
    with pytest.raises(TemplateFailed):
        EmailRenderer().render("no.such.template", {})
    with pytest.raises(TemplateFailed):  # a missing variable is an error, not an empty string
        EmailRenderer().render("notification", {})


def test_cursor_round_trip_and_garbage() -> None:
    assert INBOX_CURSOR.decode(INBOX_CURSOR.encode(12345)) == (12345,)
    for garbage in ("", "abc", INBOX_CURSOR.encode(1)[:-2] + "!!"):
        with pytest.raises(Problem) as caught:
            INBOX_CURSOR.decode(garbage)
        assert caught.value.code == "INVALID_CURSOR"

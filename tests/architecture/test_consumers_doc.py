"""docs/consumers.md lists every handler the routers declare (pure: imports, no I/O)."""

from __future__ import annotations

from consumers_doc import DOC, consumer_modules, rendered


def test_every_service_with_consumers_is_listed() -> None:
    groups = {name.split(".")[0] for name in consumer_modules()}
    assert groups >= {"podium_competitions", "podium_scoring", "podium_ingest", "podium_notifier"}


def test_the_table_is_current() -> None:
    assert DOC.read_text() == rendered(), "run `make consumers-doc`"

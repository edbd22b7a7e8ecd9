"""Batch consumers: one unit of work per poll, duplicates skipped, a bad event isolated."""

from __future__ import annotations

import uuid

from podium_contracts.topics import JOINS
from podium_runtime.testing import eventually
from probe import ProbeSettings, build_batch_probe, ledger_rows
from test_messaging import _join, _read_topic


async def test_a_batch_applies_each_event_once_and_dead_letters_only_the_bad_one(
    probe_settings: ProbeSettings,
) -> None:
    doomed = uuid.uuid4()
    settings = probe_settings.model_copy(update={"service_name": "probe-batch"})
    runtime = build_batch_probe(settings, fail_for={doomed})
    await runtime.start()
    try:
        competition = uuid.uuid4()  # one key: the whole run lands in one partition, in order
        events = [_join(competition) for _ in range(40)]
        bad = _join(competition)
        bad = bad.model_copy(update={"data": bad.data.model_copy(update={"request_id": doomed})})
        # The first event is delivered twice (a producer retry): it must count once.
        await runtime.publisher.publish(*events[:20], events[0], bad, *events[20:])
        ids = {e.data.request_id for e in events}

        async def all_recorded() -> list[tuple[uuid.UUID, str]] | None:
            rows = await ledger_rows(runtime, ids)
            return rows if len(rows) >= len(ids) else None

        rows = await eventually(all_recorded, timeout=30, message="40 events recorded")
        assert sorted(r[0] for r in rows) == sorted(ids)
        assert {r[1] for r in rows} == {"batch"}
        assert await ledger_rows(runtime, {doomed}) == []
        topic = settings.kafka_topic_prefix + JOINS.dead_letter
        dead = await _read_topic(settings, topic, want=10_000, timeout=4)
        mine = [r for r in dead if r.value == bad.model_dump_json().encode()]
        assert len(mine) == 1
        assert dict(mine[0].headers)["x-error-code"] == b"RuntimeError"
    finally:
        await runtime.stop()

"""One submission is one trace: gateway → scoring → competitions → notifier (ADR 0038).

All six services run on real infrastructure; spans are collected in memory.
The gateway's request span is the root; scoring continues it from the
`traceparent` header of `submission.received`, competitions from the header
scoring's outbox put on `submission.scored`, and the notifier from the events
it consumes; every service's JSON log lines carry the trace id.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from platform_support.windows import running_window
from podium_runtime import tracing
from podium_runtime.logs import JsonFormatter
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from ops_support.stack import OpsStack, ops_stack
from submissions_support.stack import answer_key, predictions_csv

pytestmark = pytest.mark.slow

SPANS = InMemorySpanExporter()


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    """The whole platform, with every span also kept in memory."""
    tracing.add_exporter(SPANS)
    async with ops_stack(test_infra, tmp_path_factory.mktemp("tracing")) as running:
        yield running


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON log lines as the services write them (formatted where they are logged)."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("test"))
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(level)


async def test_a_submission_is_one_trace_across_the_services(
    stack: OpsStack, log_lines: io.StringIO
) -> None:
    owner, player = await stack.sign_up(), await stack.sign_up()
    made = await stack.http.post(
        "/v1/competitions",
        json={
            "kind": "prediction",
            "metric": "auc_roc",
            "title": f"Traced {uuid.uuid4().hex[:6]}",
            "status": "active",
            "late_join": True,
            "public_fraction": 0.5,
            **running_window(),
        },
        headers=owner.auth,
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    key, ids, truth = answer_key()
    put = await stack.http.put(
        f"/v1/competitions/{cid}/answer-key",
        files={"file": ("key.csv", key, "text/csv")},
        headers=owner.auth,
    )
    assert put.status_code == 202, put.text

    async def key_loaded() -> bool:
        got = await stack.http.get(f"/v1/competitions/{cid}/answer-key", headers=owner.auth)
        return got.status_code == 200 and got.json().get("status") == "ready"

    await eventually(key_loaded, timeout=60, message="answer key loaded")
    await stack.join(cid, player)

    SPANS.clear()
    log_lines.seek(0)
    log_lines.truncate()
    sent = await stack.http.post(
        f"/v1/competitions/{cid}/submissions",
        files={"file": ("p.csv", predictions_csv(ids, truth.astype(float)), "text/csv")},
        headers=player.auth,
    )
    assert sent.status_code == 202, sent.text
    submission_id = sent.json()["id"]

    def spans_of_submission() -> tuple[int, dict[str, list[Any]]] | None:
        roots = [
            s
            for s in SPANS.get_finished_spans()
            if s.instrumentation_scope.name == "podium.gateway"
            and s.name == "POST /v1/competitions/{competition_id}/submissions"
        ]
        if len(roots) != 1:
            return None
        trace_id = roots[0].context.trace_id
        by_service: dict[str, list[Any]] = {}
        for span in SPANS.get_finished_spans():
            if span.context.trace_id == trace_id:
                by_service.setdefault(span.instrumentation_scope.name, []).append(span)
        return trace_id, by_service

    async def reached_notifier() -> tuple[int, dict[str, list[Any]]] | None:
        found = spans_of_submission()
        if found is None:
            return None
        notifier = {s.name for s in found[1].get("podium.notifier", [])}
        competitions = {s.name for s in found[1].get("podium.competitions", [])}
        wanted = "consume submission.scored"
        return found if wanted in notifier and wanted in competitions else None

    trace_id, by_service = await eventually(
        reached_notifier, timeout=60, message="the notifier's span in the submission's trace"
    )
    root = next(s for s in by_service["podium.gateway"] if s.parent is None)
    assert root.name == "POST /v1/competitions/{competition_id}/submissions"
    assert root.attributes["http.response.status_code"] == 202
    scoring = {s.name: s for s in by_service["podium.scoring"]}
    assert "consume submission.received" in scoring
    # Every span descends from the gateway's request span: one trace, no orphans.
    by_id = {s.context.span_id: s for spans in by_service.values() for s in spans}

    def descends_from_root(span: Any) -> bool:
        while span.parent is not None:
            if span.parent.span_id not in by_id:
                return False
            span = by_id[span.parent.span_id]
        return span is root

    assert all(descends_from_root(s) for s in by_id.values())
    received = scoring["consume submission.received"]
    assert by_id[received.parent.span_id].instrumentation_scope.name in (
        "podium.gateway",
        "fastapi",
    )
    scored = next(s for s in by_service["podium.competitions"] if s.name.startswith("consume"))
    assert by_id[scored.parent.span_id] is received  # through scoring's outbox
    assert scored.attributes["messaging.system"] == "kafka"
    assert scored.attributes["messaging.consumer.group.name"] == "competitions"

    # The services' log lines of this work carry the trace id.
    traced = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    traced = [line for line in traced if line.get("trace_id") == f"{trace_id:032x}"]
    assert traced, "no log line carries the trace id"
    assert submission_id

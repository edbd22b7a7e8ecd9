"""A request's span while nothing exports: ids for logs and outgoing calls, nothing recorded."""

from __future__ import annotations

from podium_runtime import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_it_continues_the_callers_trace_with_a_span_of_its_own() -> None:
    with tracing._Unrecorded({"traceparent": PARENT}) as span:
        assert not span.is_recording()
        assert tracing.current_trace_id() == TRACE_ID
        sent = tracing.inject({})
    version, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id not in ("00f067aa0ba902b7", "0" * 16)
    assert tracing.current_trace_id() is None


def test_it_starts_a_sampled_trace_without_a_caller_and_a_new_one_each_time() -> None:
    seen = set()
    for _ in range(3):
        with tracing._Unrecorded({}):
            trace_id = tracing.current_trace_id()
            assert trace_id is not None and trace_id != "0" * 32
            assert tracing.inject({})["traceparent"].endswith("-01")
            seen.add(trace_id)
    assert len(seen) == 3
    assert tracing.current_trace_id() is None


def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    with tracing._Unrecorded({"traceparent": "00-zz-yy-01"}):
        trace_id = tracing.current_trace_id()
    assert trace_id is not None and trace_id != TRACE_ID

"""OpenTelemetry tracing across HTTP and Kafka (W3C `traceparent`), ADR 0038.

One request is one trace across services: the HTTP middleware continues an
incoming `traceparent` (internal calls carry it) or starts a trace;
`inject()` adds the current context to outgoing HTTP headers and to every
event's Kafka headers (`outbox.event_headers`), so an event staged in the
outbox by a consumer carries the consumer's span; `consuming()` continues
the producer's trace for each event handled. Every service uses its own
tracer (`podium.<service>`), so one process hosting several services (tests,
`make dev`) still tells their spans apart.

Export is configured once per process by `configure_tracing()`: OTLP over
HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, JSON lines on stdout when
`PODIUM_TRACE_CONSOLE=true` (development), none otherwise. Tests add an
in-memory exporter with `add_exporter()`. While nothing exports, a request's
SERVER span is not recorded (`server_span`): it is a non-recording span that
carries the trace and span ids (continued from `traceparent`, or new), so
trace ids still reach the logs and the outgoing calls, at a fraction of the
cost of a recorded span, which nobody would read (issue #14).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

_provider: TracerProvider | None = None
#: Whether finished spans go anywhere (an exporter was configured or added).
_exporting = False


class JsonLinesExporter(SpanExporter):
    """Writes each finished span as one JSON line (readable in a dev terminal or log shipper)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans."""
        for span in spans:
            context = span.get_span_context()
            parent = span.parent
            line = {
                "trace_id": format(context.trace_id, "032x") if context else None,
                "span_id": format(context.span_id, "016x") if context else None,
                "parent_span_id": format(parent.span_id, "016x") if parent else None,
                "name": span.name,
                "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
                "kind": span.kind.name,
                "start": span.start_time,
                "end": span.end_time,
                "status": span.status.status_code.name,
                "attributes": dict(span.attributes or {}),
            }
            self.stream.write(json.dumps(line, default=str) + "\n")
        return SpanExportResult.SUCCESS


def provider() -> TracerProvider:
    """Return the process's tracer provider, configuring it from the environment once."""
    global _provider, _exporting
    if _provider is None:
        _provider = TracerProvider(
            resource=Resource.create({"service.namespace": "podium", "service.name": "podium"})
        )
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _exporting = True
        if os.environ.get("PODIUM_TRACE_CONSOLE", "").lower() in ("1", "true", "yes"):
            _provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter()))
            _exporting = True
        trace.set_tracer_provider(_provider)
    return _provider


def configure_tracing() -> TracerProvider:
    """Set up the process's provider and exporters (idempotent)."""
    return provider()


def add_exporter(exporter: SpanExporter) -> None:
    """Send every finished span to `exporter` as well (tests: an in-memory exporter)."""
    global _exporting
    provider().add_span_processor(SimpleSpanProcessor(exporter))
    _exporting = True


def exporting() -> bool:
    """Tell whether finished spans are exported anywhere (else server spans are not recorded)."""
    provider()
    return _exporting


_tracers: dict[tuple[int, str], trace.Tracer] = {}


def tracer(service: str) -> trace.Tracer:
    """Return the tracer of one service (made once per provider: `get_tracer` is not cheap)."""
    current = provider()
    key = (id(current), service)
    found = _tracers.get(key)
    if found is None:
        found = _tracers[key] = current.get_tracer(f"podium.{service}")
    return found


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add the current trace context (`traceparent`, `tracestate`) to headers; return them."""
    propagate.inject(carrier)
    return carrier


def current_trace_id() -> str | None:
    """Return the current trace id as 32 hex digits, or None outside a span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def server_span(
    service: str, name: str, headers: Mapping[str, str]
) -> contextlib.AbstractContextManager[trace.Span]:
    """A SERVER span continuing the caller's trace (from `traceparent`), if any.

    Recorded when spans are exported; otherwise a non-recording span with the
    same ids (`_Unrecorded`): the trace id reaches logs and outgoing calls alike.
    """
    if _exporting or (_provider is None and exporting()):
        return _recorded(service, name, headers)
    return _Unrecorded(headers)


@contextmanager
def _recorded(service: str, name: str, headers: Mapping[str, str]) -> Iterator[trace.Span]:
    parent = propagate.extract(dict(headers))
    with tracer(service).start_as_current_span(name, context=parent, kind=SpanKind.SERVER) as span:
        yield span


#: A new trace is sampled, as the SDK's default sampler (parent-based, always on) decides.
_NEW_TRACE_FLAGS = TraceFlags(TraceFlags.SAMPLED)


class _Unrecorded:
    """The current span for a request while nothing exports: ids only, nothing recorded.

    Continues the caller's trace (its trace id, flags and state) or starts one,
    with a span id of its own, the way the SDK would have made them.
    """

    __slots__ = ("_headers", "_token")

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __enter__(self) -> trace.Span:
        parent = None
        if self._headers:
            found = trace.get_current_span(propagate.extract(dict(self._headers)))
            parent = found.get_span_context()
        if parent is not None and parent.is_valid:
            trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
        else:
            trace_id, flags, state = random.getrandbits(128) or 1, _NEW_TRACE_FLAGS, None
        context = SpanContext(trace_id, random.getrandbits(64) or 1, False, flags, state)
        span = NonRecordingSpan(context)
        self._token = otel_context.attach(trace.set_span_in_context(span))
        return span

    def __exit__(self, *exc_info: object) -> None:
        otel_context.detach(self._token)


@contextmanager
def consuming(
    service: str, event_type: str, headers: Sequence[Mapping[str, str]], topic: str
) -> Iterator[trace.Span]:
    """A CONSUMER span continuing the trace of the (first) event; the others are links.

    A batch of events from several traces is applied in one unit of work: it
    belongs to the first event's trace and links to the rest.
    """
    contexts = [propagate.extract(dict(h)) for h in headers] or [otel_context.Context()]
    links = [
        Link(trace.get_current_span(c).get_span_context())
        for c in contexts[1:]
        if trace.get_current_span(c).get_span_context().is_valid
    ]
    with tracer(service).start_as_current_span(
        f"consume {event_type}",
        context=contexts[0],
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": service,
            "podium.event_type": event_type,
            "podium.events": len(headers),
        },
    ) as span:
        yield span


def record_failure(span: trace.Span, exc: BaseException) -> None:
    """Mark a span failed with the exception."""
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def record_headers(record: Any) -> dict[str, str]:
    """Return a Kafka record's headers as text."""
    return {k: v.decode(errors="replace") for k, v in (record.headers or [])}

"""Prometheus metrics every service exposes on `/metrics` (SPEC §5.7)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from podium_runtime.request_metrics import RequestMetrics

#: `podium_http_requests_total{method,route,status}` and
#: `podium_http_request_duration_seconds{method,route}`, recorded once per request.
HTTP = RequestMetrics(
    "podium_http_requests",
    "HTTP requests handled",
    "podium_http_request_duration_seconds",
    "HTTP request latency",
)
EVENTS_HANDLED = Counter(
    "podium_events_handled_total", "Events handled by consumers", ["topic", "event_type", "outcome"]
)
EVENTS_DEAD_LETTERED = Counter(
    "podium_events_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"]
)
CONSUMER_OUTAGE_RETRIES = Counter(
    "podium_consumer_outage_retries_total",
    "Tries of a message that failed because a dependency was unavailable (not attempts)",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "podium_consumer_lag",
    "Messages behind the end of each assigned partition",
    ["topic", "partition"],
)
OUTBOX_BACKLOG = Gauge(
    "podium_outbox_backlog", "Outbox rows not yet published (a row holds one event or a run)"
)
OUTBOX_PUBLISHED = Counter("podium_outbox_published_total", "Outbox events published to Kafka")
OUTBOX_UNDELIVERABLE = Counter(
    "podium_outbox_undeliverable_total",
    "Outbox events the broker refused (too large, invalid), moved aside instead of published",
    ["topic"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "podium_outbox_oldest_unsent_age_seconds", "Age of the oldest outbox event not yet published"
)
#: Business counters (registrations, submissions by outcome, statements, joins by outcome):
#: every fact a service publishes, by type, counted once when the broker acknowledged it.
EVENTS_PUBLISHED = Counter(
    "podium_events_published_total", "Events published to Kafka, by event type", ["event_type"]
)

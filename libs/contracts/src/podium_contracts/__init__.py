"""Podium contracts: the event envelope, every event model and the topic registry."""

from podium_contracts.envelope import Event, EventData, utc_now
from podium_contracts.events import ALL_EVENTS, AnyEvent, known_types, parse_event
from podium_contracts.topics import ALL_TOPICS, Topic, all_topic_names, topic_for

__all__ = [
    "ALL_EVENTS",
    "ALL_TOPICS",
    "AnyEvent",
    "Event",
    "EventData",
    "Topic",
    "all_topic_names",
    "known_types",
    "parse_event",
    "topic_for",
    "utc_now",
]

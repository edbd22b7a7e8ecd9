"""Topic registry: every Kafka topic, its partition key and dead-letter topic (SPEC §4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from podium_contracts.envelope import Event


@dataclass(frozen=True)
class Topic:
    """A Kafka topic with the data field that partitions it."""

    name: str
    key: str
    description: str
    partitions: int = 6
    events: list[type[Event]] = field(default_factory=list, compare=False, hash=False)

    @property
    def dead_letter(self) -> str:
        """Return the name of this topic's dead-letter topic."""
        return f"{self.name}.dlq"


IDENTITY_USERS = Topic("podium.identity.users", "user_id", "Account lifecycle facts.")
COMPETITIONS = Topic("podium.competitions", "competition_id", "Competition lifecycle facts.")
JOINS = Topic("podium.joins", "competition_id", "Join commands from the gateway.")
ENROLLMENTS = Topic("podium.enrollments", "competition_id", "Enrollment decisions.")
SUBMISSIONS = Topic("podium.submissions", "competition_id", "Submission commands and facts.")
SCORES = Topic("podium.scores", "competition_id", "Scoring outcomes.")
XAPI_STATEMENTS = Topic("podium.xapi.statements", "actor", "Raw xAPI statements accepted.")
LEARNING = Topic("podium.learning", "actor", "Flattened learning facts.")
LEADERBOARDS = Topic("podium.leaderboards", "competition_id", "Leaderboard changes.")
POINTS = Topic("podium.points", "user_id", "Changes of participants' activity points.")
REWARDS = Topic("podium.rewards", "user_id", "Prize fulfilment facts of the rewards service.")

ALL_TOPICS: tuple[Topic, ...] = (
    IDENTITY_USERS,
    COMPETITIONS,
    JOINS,
    ENROLLMENTS,
    SUBMISSIONS,
    SCORES,
    XAPI_STATEMENTS,
    LEARNING,
    LEADERBOARDS,
    POINTS,
    REWARDS,
)

E = TypeVar("E", bound=type[Event])

_BY_EVENT: dict[tuple[str, int], Topic] = {}
#: The topic of each event class asked about: `topic_for` runs once per staged event.
_BY_CLASS: dict[type[Event], Topic] = {}
_DECLARED: list[type[Event]] = []


def register(topic: Topic) -> Callable[[E], E]:
    """Class decorator declaring that an event type travels on `topic`."""

    def decorate(cls: E) -> E:
        fields = cls.__pydantic_fields__
        key = (fields["type"].default, fields["version"].default)
        _BY_EVENT[key] = topic
        topic.events.append(cls)
        _DECLARED.append(cls)
        cls.topic_name = topic.name
        cls.partition_by = topic.key
        return cls

    return decorate


def registered_events() -> tuple[type[Event], ...]:
    """Return every registered event class in the order it was declared."""
    return tuple(_DECLARED)


def topic_for(event: type[Event] | Event) -> Topic:
    """Return the topic an event class (or instance) is declared on."""
    cls = event if isinstance(event, type) else type(event)
    topic = _BY_CLASS.get(cls)
    if topic is None:
        fields = cls.__pydantic_fields__
        topic = _BY_CLASS[cls] = _BY_EVENT[(fields["type"].default, fields["version"].default)]
    return topic


def all_topic_names() -> list[str]:
    """Return every topic name, dead-letter topics included, in a stable order."""
    names: list[str] = []
    for topic in ALL_TOPICS:
        names += [topic.name, topic.dead_letter]
    return names

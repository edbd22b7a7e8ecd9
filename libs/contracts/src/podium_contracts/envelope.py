"""The event envelope every Podium message travels in (SPEC §4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    return datetime.now(UTC)


class EventData(BaseModel):
    """Base of every event payload: frozen, tolerant of fields added later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(BaseModel):
    """Common envelope fields; concrete events narrow `type`, `version` and `data`.

    Consumers read tolerantly (unknown fields are ignored) so a producer may add
    optional fields without a version bump; anything else needs a new version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    #: Name of the topic this event travels on; set by `topics.register`.
    topic_name: ClassVar[str] = ""
    #: The data field whose value is the partition key; set by `topics.register`.
    partition_by: ClassVar[str] = ""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    producer: str
    correlation_id: str
    causation_id: str | None = None
    data: Any

    def partition_key(self) -> str:
        """Return the partition key declared for this event's topic."""
        return str(getattr(self.data, self.partition_by))

    @classmethod
    def schema_name(cls) -> str:
        """Return the stable name of this event's JSON Schema file."""
        type_field = cls.model_fields["type"].default
        version_field = cls.model_fields["version"].default
        return f"{type_field}.v{version_field}"

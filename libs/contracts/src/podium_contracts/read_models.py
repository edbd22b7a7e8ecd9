"""The shapes services share through Redis, defined once (SPEC §5.6, §6, §7.2-7.3).

Competitions writes board entries and meta, the gateway reads them; the
notifier publishes live messages, the gateway relays them as SSE. The keys
they live under are built by `podium_contracts.redis_keys`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class BoardEntry(BaseModel):
    """One participant's line on a board, stored as JSON in the board's entries hash.

    The stored JSON leaves the rank out: a line's rank is its position in the board's
    sorted set, and readers put it first in the line they read (ADR 0091).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    rank: int
    user_id: uuid.UUID
    display_name: str | None
    score: float
    #: Submissions on a prediction board, statements that earned points on an activity board.
    submissions: int
    last_submission_at: datetime
    #: Set on a team's line (SPEC §10.2): `user_id` is then the team's id, `display_name`
    #: its name, and `members` the user ids of its members. Solo participants have none.
    team_id: uuid.UUID | None = None
    members: list[uuid.UUID] | None = None
    #: A sponsor's baseline submission: shown for reference, not a participant.
    baseline: bool = False

    def to_json(self) -> str:
        """Return the entry as stored in the board's entries hash (without its rank)."""
        raw: dict[str, Any] = {
            "user_id": str(self.user_id),
            "display_name": self.display_name,
            "score": self.score,
            "submissions": self.submissions,
            "last_submission_at": self.last_submission_at.isoformat(),
        }
        if self.team_id is not None:
            raw["team_id"] = str(self.team_id)
            raw["members"] = [str(m) for m in self.members or []]
        if self.baseline:
            raw["baseline"] = True
        return json.dumps(raw)


class BoardMeta(BaseModel):
    """A board's meta hash: when it was computed and how many entries it has."""

    model_config = ConfigDict(frozen=True)

    as_of: datetime | None = None
    total: int = 0

    def to_hash(self) -> dict[str, str]:
        """Return the fields as written with HSET."""
        return {"as_of": self.as_of.isoformat() if self.as_of else "", "total": str(self.total)}

    @classmethod
    def from_values(cls, values: Sequence[bytes | str | None]) -> BoardMeta:
        """Read `HMGET meta as_of total` (missing fields are an empty board)."""
        as_of, total = (v.decode() if isinstance(v, bytes) else v for v in values)
        return cls(as_of=datetime.fromisoformat(as_of) if as_of else None, total=int(total or 0))


class LiveMessage(BaseModel):
    """One message on a user's live channel; `id` is the inbox seq of a notification."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event: str
    id: int | None = None
    data: Any

    def to_json(self) -> str:
        """Return the message as published."""
        return json.dumps({"event": self.event, "id": self.id, "data": self.data}, default=str)


def competition_phase(status: str, starts_at: datetime, ends_at: datetime, now: datetime) -> str:
    """Return `upcoming`, `running` or `ended` for a competition (SPEC §10.2).

    Ended and canceled competitions, and any past `ends_at`, are `ended`; a draft
    or active one before `starts_at` is `upcoming`; otherwise it is `running`.
    """
    if status in ("ended", "canceled") or now >= ends_at:
        return "ended"
    if status == "draft" or now < starts_at:
        return "upcoming"
    return "running"


class CompetitionCard(BaseModel):
    """A competition as the gateway's read model holds it (ADR 0041).

    The facts decide who may see it and its boards; `document` is the
    competition rendered for a caller who is neither owner, admin nor
    participant (no invite code, a `viewer` block of role `viewer`), whose
    `phase` the reader recomputes at read time.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    status: str
    visibility: str
    starts_at: datetime
    ends_at: datetime
    timezone: str = "UTC"
    metric: str | None = None
    daily_submission_limit: int | None = None
    #: Whether the competition has a team (SPEC §10.2): the daily limit then counts per team,
    #: which the card does not hold. None (a card written before this field): not known.
    teams: bool | None = None
    document: dict[str, Any]

    def is_public(self) -> bool:
        """Tell whether anyone may see it: public and not a draft."""
        return self.visibility == "public" and self.status != "draft"

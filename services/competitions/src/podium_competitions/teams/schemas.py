"""Request and response models of teams and final submissions (SPEC §10.2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TeamName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TeamCreate(BaseModel):
    """Body of `POST /v1/competitions/{id}/teams`."""

    model_config = ConfigDict(extra="forbid")

    name: TeamName


class TeamMember(BaseModel):
    """One member of a team (display name only)."""

    user_id: uuid.UUID
    display_name: str


class Team(BaseModel):
    """A team; `invite_code` only for its members (the invite link)."""

    id: uuid.UUID
    competition_id: uuid.UUID
    name: str
    members: list[TeamMember]
    invite_code: str | None = None
    created_at: datetime


class TeamTarget(BaseModel):
    """Which team and competition an invite code or a merge is aimed at."""

    team_id: uuid.UUID
    competition_id: uuid.UUID


class TeamRequest(BaseModel):
    """The outcome of a team join or merge request."""

    request_id: uuid.UUID
    competition_id: uuid.UUID
    kind: Literal["join", "merge"]
    status: Literal["accepted", "rejected"]
    reason: str | None
    team_id: uuid.UUID | None
    decided_at: datetime


class FinalSelectionBody(BaseModel):
    """Body of `PUT .../final-submissions`: the submissions to count on the private board."""

    model_config = ConfigDict(extra="forbid")

    submission_ids: list[uuid.UUID] = Field(max_length=100)


class FinalSelection(BaseModel):
    """An entrant's final submissions: chosen ones, or the default best K public scores."""

    competition_id: uuid.UUID
    entrant_id: uuid.UUID
    limit: int
    submission_ids: list[uuid.UUID]
    #: True when nothing was chosen and the best `limit` public scores apply.
    default: bool


class TeamMembership(BaseModel):
    """User id -> team id of every team member of a competition."""

    teams: dict[uuid.UUID, uuid.UUID]

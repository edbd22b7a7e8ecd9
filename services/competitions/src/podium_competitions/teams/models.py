"""Tables of teams and final selections, in the competitions schema (STYLE 7).

A solo participant is a team of one without a row here: their "entrant" id is
their user id. Creating a team (or joining one) gives them a team id instead.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table, func
from sqlalchemy.dialects.postgresql import UUID

from podium_competitions.models import metadata

teams = Table(
    "teams",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "competition_id",
        UUID(as_uuid=True),
        ForeignKey("competitions.competitions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("invite_code", String(64), nullable=False, unique=True),
    Column("created_by", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_teams_competition", "competition_id"),
)

# One team per participant and competition: the primary key makes two impossible.
team_members = Table(
    "team_members",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "team_id",
        UUID(as_uuid=True),
        ForeignKey("competitions.teams.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("joined_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_team_members_team", "team_id"),
)

# The outcome of each team join or merge request, for `GET /v1/teams/requests/{id}`.
team_requests = Table(
    "team_requests",
    metadata,
    Column("request_id", UUID(as_uuid=True), primary_key=True),
    Column("competition_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("reason", String(50)),
    Column("team_id", UUID(as_uuid=True)),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A team's (or solo participant's) chosen submissions for the private board (SPEC §10.2).
final_selections = Table(
    "final_selections",
    metadata,
    Column("competition_id", UUID(as_uuid=True), primary_key=True),
    Column("entrant_id", UUID(as_uuid=True), primary_key=True),
    Column("submission_id", UUID(as_uuid=True), primary_key=True),
    Column("selected_by", UUID(as_uuid=True), nullable=False),
    Column("selected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

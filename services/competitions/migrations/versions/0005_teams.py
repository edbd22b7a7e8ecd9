"""Teams, team requests and final selections; team and final-selection settings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "competitions"
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column("competitions", sa.Column("team_size_limit", sa.Integer), schema=SCHEMA)
    op.add_column(
        "competitions",
        sa.Column("team_merge_deadline", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.add_column(
        "competitions",
        sa.Column("final_submissions_limit", sa.Integer, nullable=False, server_default="2"),
        schema=SCHEMA,
    )
    op.create_table(
        "teams",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "competition_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.competitions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("invite_code", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", UUID, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_teams_competition", "teams", ["competition_id"], schema=SCHEMA)
    op.create_table(
        "team_members",
        sa.Column("competition_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column(
            "team_id",
            UUID,
            sa.ForeignKey(f"{SCHEMA}.teams.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_team_members_team", "team_members", ["team_id"], schema=SCHEMA)
    op.create_table(
        "team_requests",
        sa.Column("request_id", UUID, primary_key=True),
        sa.Column("competition_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(50)),
        sa.Column("team_id", UUID),
        sa.Column(
            "decided_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "final_selections",
        sa.Column("competition_id", UUID, primary_key=True),
        sa.Column("entrant_id", UUID, primary_key=True),
        sa.Column("submission_id", UUID, primary_key=True),
        sa.Column("selected_by", UUID, nullable=False),
        sa.Column(
            "selected_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("final_selections", schema=SCHEMA)
    op.drop_table("team_requests", schema=SCHEMA)
    op.drop_index("ix_team_members_team", table_name="team_members", schema=SCHEMA)
    op.drop_table("team_members", schema=SCHEMA)
    op.drop_index("ix_teams_competition", table_name="teams", schema=SCHEMA)
    op.drop_table("teams", schema=SCHEMA)
    op.drop_column("competitions", "final_submissions_limit", schema=SCHEMA)
    op.drop_column("competitions", "team_merge_deadline", schema=SCHEMA)
    op.drop_column("competitions", "team_size_limit", schema=SCHEMA)

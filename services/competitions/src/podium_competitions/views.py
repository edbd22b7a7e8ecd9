"""Who is asking, and how stored rows look to callers and in events (pure mapping, no I/O)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from podium_contracts.events import (
    CompetitionData,
)
from podium_runtime.db import AnyRow

from podium_competitions import domain
from podium_competitions.schemas import (
    Competition,
    Enrollment,
    Viewer,
)


@dataclass(frozen=True)
class Caller:
    """Who is asking, as vouched for by the gateway; None stands for an anonymous visitor."""

    user_id: uuid.UUID
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        """Tell whether the caller is an administrator."""
        return self.role == "admin"


def competition_data(row: AnyRow) -> CompetitionData:
    """Return the event payload describing a competition's current state."""
    return CompetitionData(
        competition_id=row.id,
        owner_id=row.owner_id,
        kind=row.kind,
        title=row.title,
        visibility=row.visibility,
        status=row.status,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        timezone=row.timezone,
        max_participants=row.max_participants,
        late_join=row.late_join,
        metric=row.metric,
        daily_submission_limit=row.daily_submission_limit,
        public_fraction=row.public_fraction,
        rules=row.rules,
    )


def to_competition(row: AnyRow, caller: Caller | None, viewer: Viewer | None = None) -> Competition:
    """Render a row for `caller`; the invite code only reaches the owner and admins."""
    may_see_code = caller is not None and (caller.is_admin or caller.user_id == row.owner_id)
    return Competition(
        id=row.id,
        owner_id=row.owner_id,
        kind=row.kind,
        title=row.title,
        description=row.description,
        visibility=row.visibility,
        status=row.status,
        phase=domain.phase(row.status, row.starts_at, row.ends_at, datetime.now(UTC)),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        timezone=row.timezone,
        max_participants=row.max_participants,
        participants=row.participants_count,
        late_join=row.late_join,
        metric=row.metric,
        daily_submission_limit=row.daily_submission_limit,
        public_fraction=row.public_fraction,
        rules=row.rules,
        team_size_limit=row.team_size_limit,
        team_merge_deadline=row.team_merge_deadline,
        final_submissions_limit=row.final_submissions_limit,
        data_public=row.data_public,
        join_approval=row.join_approval,
        invite_code=row.invite_code if may_see_code else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        viewer=viewer,
    )


def to_enrollment(row: AnyRow) -> Enrollment:
    """Render an enrollment row."""
    return Enrollment(
        competition_id=row.competition_id,
        user_id=row.user_id,
        status=row.status,
        reason=row.reason,
        request_id=row.request_id,
        enrolled_at=row.enrolled_at if row.status == "accepted" else None,
        updated_at=row.updated_at,
    )

"""Use cases of the competitions service; they flush, never commit (STYLE 2-3).

Every state change that others must learn about is staged in the outbox in the
caller's transaction (SPEC §4).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from podium_contracts.events import (
    CompetitionCreated,
    CompetitionUpdated,
    UserData,
)
from podium_runtime.cursors import CursorCodec
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from podium_runtime.problems import ConflictError, ForbiddenError, InvalidError, NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import domain, repository
from podium_competitions.activity.service import standing as activity_standing
from podium_competitions.leaderboard.service import standing as leaderboard_standing
from podium_competitions.schemas import (
    Competition,
    CompetitionCreate,
    CompetitionPage,
    CompetitionUpdate,
    Stats,
    Viewer,
    _KindFields,
)
from podium_competitions.sponsor import stats as sponsor_stats
from podium_competitions.teams.repository import team_of
from podium_competitions.views import Caller, competition_data, to_competition

PRODUCER = "competitions"


# The use cases refuse with the runtime's errors (one hierarchy in every service), under
# the short names the service's modules import from here.
NotFound = NotFoundError
Forbidden = ForbiddenError
Conflict = ConflictError
Invalid = InvalidError


def now() -> datetime:
    """Return the current instant (one clock for every use case of competitions)."""
    return datetime.now(UTC)


# --- cursors -----------------------------------------------------------------


#: Keyset cursors of competition and participant pages: (instant, id) of the last row.
PAGE_CURSOR = CursorCodec(datetime, uuid.UUID)
#: Roster cursors: (instant, how many rows of that instant were already shown). No user id,
#: so a stranger paging a roster learns display names only (SPEC §5.2).
ROSTER_CURSOR = CursorCodec(datetime, int)


# --- competitions ------------------------------------------------------------


async def create_competition(
    session: AsyncSession, outbox: Outbox, caller: Caller, data: CompetitionCreate
) -> Competition:
    """Create a competition owned by the caller and announce it."""
    values = data.model_dump(mode="python")
    if data.rules is not None:
        values["rules"] = data.rules.model_dump(mode="json", exclude_none=True)
    if data.status == "active" and data.ends_at <= now():
        raise Conflict("INVALID_TRANSITION", "a competition that already ended cannot be active")
    values.update(
        id=uuid.uuid4(),
        owner_id=caller.user_id,
        invite_code=domain.new_invite_code() if data.visibility == "private" else None,
    )
    row = await repository.insert_competition(session, values)
    await outbox.add(session, new_event(CompetitionCreated, PRODUCER, competition_data(row)))
    return to_competition(row, caller, Viewer(role="sponsor"))


async def _viewer(session: AsyncSession, row: AnyRow, caller: Caller | None) -> Viewer:
    limit = row.daily_submission_limit if row.kind == "prediction" else None
    if caller is None:
        return Viewer(role="viewer", submissions_limit=limit)
    if caller.user_id == row.owner_id:
        return Viewer(role="sponsor", submissions_limit=limit)
    enrollment = await repository.get_enrollment(session, row.id, caller.user_id)
    if enrollment is not None and enrollment.status == "accepted":
        # Activity competitions rank by points (SPEC §7.3), prediction ones by score (§7.2).
        standing = activity_standing if row.kind == "activity" else leaderboard_standing
        team_id = await team_of(session, row.id, caller.user_id)
        best_score, rank = await standing(session, row.id, team_id or caller.user_id)
        return Viewer(
            role="participant",
            enrolled_at=enrollment.enrolled_at,
            submissions_limit=limit,
            best_score=best_score,
            rank=rank,
            team_id=team_id,
        )
    return Viewer(role="viewer", submissions_limit=limit)


async def visible_competition(
    session: AsyncSession, competition_id: uuid.UUID, caller: Caller | None
) -> AnyRow:
    """Return the competition if the caller may see it; NotFound otherwise (SPEC §8)."""
    row = await repository.get_visible_competition(
        session,
        competition_id,
        caller.user_id if caller else None,
        caller.is_admin if caller else False,
    )
    if row is None:
        raise NotFound("NOT_FOUND", "no such competition")
    return row


async def get_competition(
    session: AsyncSession, competition_id: uuid.UUID, caller: Caller | None
) -> Competition:
    """Return a competition with the caller's `viewer` block; invisible ones are NotFound."""
    row = await visible_competition(session, competition_id, caller)
    return to_competition(row, caller, await _viewer(session, row, caller))


async def list_competitions(
    session: AsyncSession,
    caller: Caller | None,
    *,
    status: str | None,
    kind: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
    mine: str | None = None,
) -> CompetitionPage:
    """Return one page of the competitions the caller may see, newest first."""
    rows = await repository.list_competitions(
        session,
        viewer_id=caller.user_id if caller else None,
        is_admin=caller.is_admin if caller else False,
        status=status,
        kind=kind,
        q=q,
        limit=limit + 1,
        after=PAGE_CURSOR.decode_optional(cursor),
        mine=mine if caller else None,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = PAGE_CURSOR.encode(rows[-1].created_at, rows[-1].id) if more and rows else None
    return CompetitionPage(items=[to_competition(r, caller) for r in rows], next_cursor=next_cursor)


async def _owned(
    session: AsyncSession, competition_id: uuid.UUID, caller: Caller, *, lock: bool = False
) -> AnyRow:
    row = await visible_competition(session, competition_id, caller)
    if row.owner_id != caller.user_id and not caller.is_admin:
        raise Forbidden("NOT_OWNER", "only the owner or an admin may do this")
    if lock:
        locked = await repository.get_competition(session, competition_id, for_update=True)
        assert locked is not None
        return locked
    return row


_NOT_NULL = {
    "title",
    "description",
    "visibility",
    "status",
    "starts_at",
    "ends_at",
    "timezone",
    "late_join",
    "data_public",
    "join_approval",
    "final_submissions_limit",
}


async def update_competition(
    session: AsyncSession,
    outbox: Outbox,
    caller: Caller,
    competition_id: uuid.UUID,
    patch: CompetitionUpdate,
) -> Competition:
    """Apply an owner's or admin's change; status moves only along SPEC §5.2's machine."""
    row = await _owned(session, competition_id, caller, lock=True)
    changes = patch.model_dump(mode="python", exclude_unset=True)
    nulls = sorted(k for k in _NOT_NULL if k in changes and changes[k] is None)
    if nulls:
        raise Invalid("VALIDATION_ERROR", f"{', '.join(nulls)} cannot be null")
    if "rules" in changes and patch.rules is not None:
        changes["rules"] = patch.rules.model_dump(mode="json", exclude_none=True)
    merged = {**row._mapping, **changes}
    if merged["ends_at"] <= merged["starts_at"]:
        raise Invalid("VALIDATION_ERROR", "ends_at must be after starts_at")
    try:
        _KindFields.check_kind_fields(row.kind, merged)
    except ValueError as exc:
        raise Invalid("VALIDATION_ERROR", str(exc)) from exc
    target = changes.get("status", row.status)
    if not domain.can_transition(row.status, target):
        raise Conflict(
            "INVALID_TRANSITION", f"a competition cannot move from {row.status} to {target}"
        )
    if target == "active" and row.status != "active" and merged["ends_at"] <= now():
        raise Conflict("INVALID_TRANSITION", "ends_at has passed; the competition cannot start")
    cap = merged["max_participants"]
    if cap is not None and cap < row.participants_count:
        raise Conflict(
            "MAX_PARTICIPANTS_BELOW_ENROLLED",
            f"{row.participants_count} participants are already enrolled",
        )
    if merged["visibility"] == "private" and not row.invite_code:
        changes["invite_code"] = domain.new_invite_code()
    elif merged["visibility"] == "public" and row.invite_code is not None:
        changes["invite_code"] = None
    if not changes:
        return to_competition(row, caller, await _viewer(session, row, caller))
    updated = await repository.update_competition(session, competition_id, changes)
    await outbox.add(session, new_event(CompetitionUpdated, PRODUCER, competition_data(updated)))
    return to_competition(updated, caller, await _viewer(session, updated, caller))


async def regenerate_invite_code(
    session: AsyncSession, outbox: Outbox, caller: Caller, competition_id: uuid.UUID
) -> Competition:
    """Replace a private competition's invite code; the old one stops working at once."""
    row = await _owned(session, competition_id, caller, lock=True)
    if row.visibility != "private":
        raise Conflict("NOT_PRIVATE", "only private competitions have invite codes")
    updated = await repository.update_competition(
        session, competition_id, {"invite_code": domain.new_invite_code()}
    )
    return to_competition(updated, caller, await _viewer(session, updated, caller))


async def end_due_competitions(session: AsyncSession, outbox: Outbox) -> int:
    """End every active competition past its `ends_at`, announcing each; return how many."""
    rows = await repository.end_due_competitions(session, now())
    if rows:
        await outbox.add(
            session, *(new_event(CompetitionUpdated, PRODUCER, competition_data(r)) for r in rows)
        )
    return len(rows)


async def join_target(
    session: AsyncSession, competition_id: uuid.UUID | None, invite_code: str | None
) -> uuid.UUID:
    """Resolve what a join request aims at; unknown ids and codes are NotFound."""
    if invite_code is not None:
        found = await repository.competition_id_by_invite_code(session, invite_code)
        if found is None or (competition_id is not None and found != competition_id):
            raise NotFound("INVALID_INVITE_CODE", "no competition has this invite code")
        return found
    if competition_id is None or await repository.get_competition(session, competition_id) is None:
        raise NotFound("NOT_FOUND", "no such competition")
    return competition_id


async def get_stats(session: AsyncSession, caller: Caller, competition_id: uuid.UUID) -> Stats:
    """Return the owner's statistics of a competition."""
    row = await _owned(session, competition_id, caller)
    counts = await repository.count_by_status(session, competition_id)
    days = await repository.joins_per_day(session, competition_id)
    per_day, distribution = await sponsor_stats.submission_stats(session, competition_id)
    return Stats(
        competition_id=competition_id,
        participants=row.participants_count,
        max_participants=row.max_participants,
        rejected_requests=counts.get("rejected", 0),
        left=counts.get("left", 0),
        rejections_by_reason=await repository.rejections_by_reason(session, competition_id),
        joins_per_day=[{"date": d.day.isoformat(), "joins": d.joins} for d in days],
        submissions_per_day=per_day,
        score_distribution=distribution,
    )


# --- users projection ----------------------------------------------------------


async def record_user(session: AsyncSession, user: UserData) -> None:
    """Keep a user's display name, time zone and e-mail (xAPI `mbox`, SPEC §7.3) from identity."""
    await repository.upsert_user(
        session, user.user_id, user.display_name, user.timezone, user.email
    )

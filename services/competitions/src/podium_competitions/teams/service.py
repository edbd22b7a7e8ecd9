"""Use cases of teams and final submissions; they flush, never commit (SPEC §10.2).

A solo participant is a team of one whose id is their user id. Creating a team
is synchronous (the creator is already a participant). Joining a team by its
invite link and merging two teams are commands on the competition's partition
(`team.join_requested`, `team.merge_requested`), decided here one after the
other under the competition's row lock: capacity, team size, the merge deadline
and the shared daily limit stay exact without distributed locks.

The daily limit counts per team: the gateway keeps the day's submission ids
in a Redis set per entrant (`daily_submissions_key`). When someone enters a
team, their set of the day is merged into the team's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as redis
from podium_contracts.codes import JoinRejection, TeamRejection
from podium_contracts.envelope import Event
from podium_contracts.events import (
    EnrollmentAccepted,
    EnrollmentData,
    EnrollmentRejected,
    TeamChanged,
    TeamData,
    TeamJoinData,
    TeamMergeData,
    TeamRequestRejected,
    TeamRequestRejectedData,
)
from podium_contracts.redis_keys import (
    DAILY_SUBMISSIONS_TTL_SECONDS,
    daily_submissions_key,
    utc_day,
)
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import domain
from podium_competitions import repository as competitions_repository
from podium_competitions.leaderboard import repository as leaderboard_repository
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.leaderboard.service import place_entrant, regroup
from podium_competitions.service import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    _owned,
    visible_competition,
)
from podium_competitions.teams import domain as teams_domain
from podium_competitions.teams import repository
from podium_competitions.teams.schemas import (
    FinalSelection,
    Team,
    TeamMember,
    TeamRequest,
    TeamTarget,
)
from podium_competitions.views import Caller

PRODUCER = "competitions"


def _now() -> datetime:
    return datetime.now(UTC)


async def _team_view(session: AsyncSession, row: AnyRow, *, with_code: bool) -> Team:
    members = await repository.members(session, row.id)
    return Team(
        id=row.id,
        competition_id=row.competition_id,
        name=row.name,
        members=[TeamMember(user_id=m.user_id, display_name=m.display_name) for m in members],
        invite_code=row.invite_code if with_code else None,
        created_at=row.created_at,
    )


def _team_changed(row: AnyRow, members: list[uuid.UUID], change: str, **extra: Any) -> Event:
    return new_event(
        TeamChanged,
        PRODUCER,
        TeamData(
            competition_id=row.competition_id,
            team_id=row.id,
            name=row.name,
            members=members,
            change=change,
            **extra,
        ),
    )


async def _merge_daily_slots(
    client: redis.Redis, competition_id: uuid.UUID, into: uuid.UUID, *sources: uuid.UUID
) -> None:
    """Add the day's submissions of `sources` to the entrant `into` (SPEC §10.2)."""
    day = utc_day(_now())
    target = daily_submissions_key(competition_id, into, day)
    keys = [daily_submissions_key(competition_id, s, day) for s in sources]
    async with client.pipeline(transaction=True) as pipe:
        pipe.sunionstore(target, [target, *keys])
        pipe.expire(target, DAILY_SUBMISSIONS_TTL_SECONDS)
        await pipe.execute()


async def _used_today(client: redis.Redis, competition_id: uuid.UUID, entrant: uuid.UUID) -> int:
    key = daily_submissions_key(competition_id, entrant, utc_day(_now()))
    return int(await client.scard(key))


# --- synchronous use cases ---------------------------------------------------------


async def create_team(
    session: AsyncSession,
    outbox: Outbox,
    client: redis.Redis,
    mirror: LeaderboardMirror,
    caller: Caller,
    competition_id: uuid.UUID,
    name: str,
) -> Team:
    """Create a team with the caller as its first member; they must be a participant."""
    await visible_competition(session, competition_id, caller)
    competition = await competitions_repository.get_competition(
        session, competition_id, for_update=True
    )
    assert competition is not None
    if competition.kind != "prediction":
        raise Conflict("NOT_A_PREDICTION_COMPETITION", "only prediction competitions have teams")
    if not await competitions_repository.is_participant(session, competition_id, caller.user_id):
        raise Forbidden("NOT_ENROLLED", "join the competition before creating a team")
    if await repository.team_of(session, competition_id, caller.user_id) is not None:
        raise Conflict("ALREADY_IN_TEAM", "you are already in a team of this competition")
    if competition.status in ("ended", "canceled") or _now() >= competition.ends_at:
        raise Conflict("COMPETITION_NOT_ACTIVE", "the competition is over")
    row = await repository.insert_team(
        session,
        {
            "id": uuid.uuid4(),
            "competition_id": competition_id,
            "name": name,
            "invite_code": domain.new_invite_code(),
            "created_by": caller.user_id,
        },
    )
    await repository.add_members(session, competition_id, row.id, [caller.user_id])
    await repository.move_selection(session, competition_id, caller.user_id, row.id)
    await _merge_daily_slots(client, competition_id, row.id, caller.user_id)
    await outbox.add(session, _team_changed(row, [caller.user_id], "created"))
    # The founder's own line becomes the team's.
    await regroup(session, outbox, mirror, competition_id, caller.user_id, caller.user_id)
    return await _team_view(session, row, with_code=True)


async def my_team(session: AsyncSession, caller: Caller, competition_id: uuid.UUID) -> Team:
    """Return the caller's team in a competition; solo participants have none (404)."""
    await visible_competition(session, competition_id, caller)
    team_id = await repository.team_of(session, competition_id, caller.user_id)
    row = await repository.get_team(session, team_id) if team_id else None
    if row is None:
        raise NotFound("NO_TEAM", "you are not in a team of this competition")
    return await _team_view(session, row, with_code=True)


async def team_by_invite_code(session: AsyncSession, invite_code: str) -> TeamTarget:
    """Resolve a team invite link; unknown codes are 404 `INVALID_INVITE_CODE`."""
    row = await repository.team_by_invite_code(session, invite_code)
    if row is None:
        raise NotFound("INVALID_INVITE_CODE", "no team has this invite code")
    return TeamTarget(team_id=row.id, competition_id=row.competition_id)


async def merge_target(session: AsyncSession, caller: Caller, team_id: uuid.UUID) -> TeamTarget:
    """Resolve the team a member asks to merge; only its members see it (404 otherwise)."""
    row = await repository.get_team(session, team_id)
    if row is None or caller.user_id not in await repository.member_ids(session, team_id):
        raise NotFound("TEAM_NOT_FOUND", "no such team among yours")
    return TeamTarget(team_id=row.id, competition_id=row.competition_id)


async def get_request(session: AsyncSession, caller: Caller, request_id: uuid.UUID) -> TeamRequest:
    """Return the outcome of one of the caller's team requests (404 while undecided)."""
    row = await repository.get_request(session, request_id)
    if row is None or row.user_id != caller.user_id:
        raise NotFound("REQUEST_NOT_FOUND", "no decided team request with this id")
    return TeamRequest(
        request_id=row.request_id,
        competition_id=row.competition_id,
        kind=row.kind,
        status=row.status,
        reason=row.reason,
        team_id=row.team_id,
        decided_at=row.decided_at,
    )


# --- commands decided in partition order ------------------------------------------------


async def _refuse(
    session: AsyncSession,
    outbox: Outbox,
    kind: str,
    request_id: uuid.UUID,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    reason: str,
) -> str:
    await repository.record_request(
        session,
        {
            "request_id": request_id,
            "competition_id": competition_id,
            "user_id": user_id,
            "kind": kind,
            "status": "rejected",
            "reason": reason,
        },
    )
    await outbox.add(
        session,
        new_event(
            TeamRequestRejected,
            PRODUCER,
            TeamRequestRejectedData(
                request_id=request_id, competition_id=competition_id, user_id=user_id, reason=reason
            ),
        ),
    )
    return reason


async def _accept(
    session: AsyncSession,
    kind: str,
    request_id: uuid.UUID,
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    team_id: uuid.UUID,
) -> str:
    await repository.record_request(
        session,
        {
            "request_id": request_id,
            "competition_id": competition_id,
            "user_id": user_id,
            "kind": kind,
            "status": "accepted",
            "team_id": team_id,
        },
    )
    return "accepted"


async def _enroll_for_team(
    session: AsyncSession, outbox: Outbox, competition: AnyRow, data: TeamJoinData
) -> JoinRejection | None:
    """Enroll a newcomer arriving by a team link under the competition's join rules.

    A valid team invite stands for the competition's invite code; capacity counts
    people, and the competition row is locked, so seats are never oversold.
    """
    target = domain.JoinTarget(
        owner_id=competition.owner_id,
        status=competition.status,
        visibility=competition.visibility,
        invite_code=competition.invite_code,
        starts_at=competition.starts_at,
        late_join=competition.late_join,
    )
    reason = domain.join_refusal(target, data.user_id, competition.invite_code, _now())
    previous = await competitions_repository.get_enrollment(
        session, competition.id, data.user_id, for_update=True
    )
    if previous is not None and previous.reason == JoinRejection.BANNED:
        reason = JoinRejection.BANNED
    cap = competition.max_participants
    if reason is None and cap is not None and competition.participants_count >= cap:
        reason = JoinRejection.FULL
    accepted = reason is None
    await competitions_repository.save_enrollment(
        session,
        competition.id,
        data.user_id,
        status="accepted" if accepted else "rejected",
        reason=reason,
        request_id=data.request_id,
        enrolled_at=_now() if accepted else None,
    )
    enrollment = EnrollmentData(
        competition_id=competition.id,
        user_id=data.user_id,
        request_id=data.request_id,
        reason=reason,
    )
    if accepted:
        await competitions_repository.take_seats(session, {competition.id: 1})
        await outbox.add(session, new_event(EnrollmentAccepted, PRODUCER, enrollment))
    else:
        await outbox.add(session, new_event(EnrollmentRejected, PRODUCER, enrollment))
    return reason


async def decide_team_join(
    session: AsyncSession,
    outbox: Outbox,
    client: redis.Redis,
    mirror: LeaderboardMirror,
    data: TeamJoinData,
) -> str:
    """Accept or refuse a team join; return `accepted` or the refusal code."""
    args = ("join", data.request_id, data.competition_id, data.user_id)
    if await repository.get_request(session, data.request_id) is not None:
        return "duplicate"
    competition = await competitions_repository.get_competition(
        session, data.competition_id, for_update=True
    )
    team = await repository.get_team(session, data.team_id, for_update=True)
    if (
        competition is None
        or team is None
        or team.competition_id != competition.id
        or not domain.invite_code_matches(team.invite_code, data.invite_code)
    ):
        return await _refuse(session, outbox, *args, TeamRejection.TEAM_NOT_FOUND)
    current = await repository.team_of(session, competition.id, data.user_id)
    if current == team.id:
        return await _accept(session, *args, team.id)  # re-joining is idempotent
    if current is not None:
        return await _refuse(session, outbox, *args, TeamRejection.ALREADY_IN_TEAM)
    members = await repository.member_ids(session, team.id)
    participant = await competitions_repository.is_participant(
        session, competition.id, data.user_id
    )
    reason = teams_domain.growth_refusal(
        size=len(members),
        joining=1,
        size_limit=competition.team_size_limit,
        used_today=await _used_today(client, competition.id, team.id),
        joining_used_today=(
            await _used_today(client, competition.id, data.user_id) if participant else 0
        ),
        daily_limit=competition.daily_submission_limit,
        merge_deadline=competition.team_merge_deadline,
        now=_now(),
    )
    if reason is not None:
        return await _refuse(session, outbox, *args, reason)
    if not participant and competition.join_approval:
        # Approval mode: newcomers ask the owner first (SPEC §10.2), then follow the link.
        return await _refuse(session, outbox, *args, TeamRejection.NOT_ENROLLED)
    if not participant:
        refused = await _enroll_for_team(session, outbox, competition, data)
        if refused is not None:
            return await _refuse(session, outbox, *args, refused)
    await repository.add_members(session, competition.id, team.id, [data.user_id])
    await repository.replace_selection(session, competition.id, data.user_id, [], data.user_id)
    await _merge_daily_slots(client, competition.id, team.id, data.user_id)
    await outbox.add(
        session,
        _team_changed(team, [*members, data.user_id], "joined", request_id=data.request_id),
    )
    # The newcomer's own line goes; the team's counts their submissions now.
    await regroup(session, outbox, mirror, competition.id, data.user_id, data.user_id)
    return await _accept(session, *args, team.id)


async def decide_merge(
    session: AsyncSession,
    outbox: Outbox,
    client: redis.Redis,
    mirror: LeaderboardMirror,
    data: TeamMergeData,
) -> str:
    """Merge one team into another when the rules allow; return `accepted` or the refusal."""
    args = ("merge", data.request_id, data.competition_id, data.user_id)
    if await repository.get_request(session, data.request_id) is not None:
        return "duplicate"
    competition = await competitions_repository.get_competition(
        session, data.competition_id, for_update=True
    )
    # Both teams are locked in id order, so two opposite merges cannot deadlock.
    locked = {}
    for team_id in sorted({data.team_id, data.into_team_id}):
        locked[team_id] = await repository.get_team(session, team_id, for_update=True)
    source, target = locked.get(data.team_id), locked.get(data.into_team_id)
    if (
        competition is None
        or source is None
        or target is None
        or source.competition_id != competition.id
        or target.competition_id != competition.id
    ):
        return await _refuse(session, outbox, *args, TeamRejection.TEAM_NOT_FOUND)
    if source.id == target.id:
        return await _refuse(session, outbox, *args, TeamRejection.SAME_TEAM)
    source_members = await repository.member_ids(session, source.id)
    if data.user_id not in source_members:
        return await _refuse(session, outbox, *args, TeamRejection.NOT_A_MEMBER)
    target_members = await repository.member_ids(session, target.id)
    reason = teams_domain.growth_refusal(
        size=len(target_members),
        joining=len(source_members),
        size_limit=competition.team_size_limit,
        used_today=await _used_today(client, competition.id, target.id),
        joining_used_today=await _used_today(client, competition.id, source.id),
        daily_limit=competition.daily_submission_limit,
        merge_deadline=competition.team_merge_deadline,
        now=_now(),
    )
    if reason is not None:
        return await _refuse(session, outbox, *args, reason)
    await repository.move_members(session, source.id, target.id)
    await repository.move_selection(session, competition.id, source.id, target.id)
    await repository.delete_team(session, source.id)
    await _merge_daily_slots(client, competition.id, target.id, source.id)
    await outbox.add(
        session,
        _team_changed(
            target,
            [*target_members, *source_members],
            "merged",
            request_id=data.request_id,
            merged_team_id=source.id,
        ),
    )
    # The merged team's line goes; the team it joined counts its submissions now.
    await regroup(session, outbox, mirror, competition.id, data.user_id, source.id)
    return await _accept(session, *args, target.id)


# --- final submissions ------------------------------------------------------------------


async def _entrant(session: AsyncSession, caller: Caller, competition_id: uuid.UUID) -> AnyRow:
    competition = await visible_competition(session, competition_id, caller)
    if not await competitions_repository.is_participant(session, competition_id, caller.user_id):
        raise Forbidden("NOT_ENROLLED", "only participants choose final submissions")
    return competition


async def final_selection(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID
) -> FinalSelection:
    """Return the caller's team's final submissions: chosen ones or the default best K."""
    competition = await _entrant(session, caller, competition_id)
    team_id = await repository.team_of(session, competition_id, caller.user_id)
    entrant = team_id or caller.user_id
    users = await repository.member_ids(session, team_id) if team_id else [caller.user_id]
    on_board = await repository.board_submissions_of(session, competition_id, users)
    chosen = set(await repository.selection(session, competition_id, entrant))
    k = competition.final_submissions_limit
    present = [s for s in on_board if s.submission_id in chosen]
    if present:
        ids, default = [s.submission_id for s in present], False
    else:
        ranked = await leaderboard_repository.scored_submissions(session, competition_id)
        mine = [s for s in ranked if s.user_id in set(users)]
        ids, default = teams_domain.default_selection(mine, k), True
    return FinalSelection(
        competition_id=competition_id,
        entrant_id=entrant,
        limit=k,
        submission_ids=sorted(ids, key=str),
        default=default,
    )


async def select_finals(
    session: AsyncSession,
    outbox: Outbox,
    mirror: LeaderboardMirror,
    caller: Caller,
    competition_id: uuid.UUID,
    submission_ids: list[uuid.UUID],
) -> FinalSelection:
    """Choose up to K of the team's scored submissions for the private board, before the end.

    An empty list goes back to the default (the best K public scores).
    """
    competition = await _entrant(session, caller, competition_id)
    if _now() >= competition.ends_at or competition.status in ("ended", "canceled"):
        raise Conflict("COMPETITION_ENDED", "final submissions are chosen before the end")
    wanted = list(dict.fromkeys(submission_ids))
    if len(wanted) > competition.final_submissions_limit:
        raise Invalid(
            "TOO_MANY_FINAL_SUBMISSIONS",
            f"at most {competition.final_submissions_limit} submissions count",
        )
    team_id = await repository.team_of(session, competition_id, caller.user_id)
    users = await repository.member_ids(session, team_id) if team_id else [caller.user_id]
    known = {
        s.submission_id
        for s in await repository.board_submissions_of(session, competition_id, users)
    }
    unknown = [sid for sid in wanted if sid not in known]
    if unknown:
        raise Invalid(
            "SUBMISSION_NOT_SELECTABLE",
            f"not a scored submission of your team: {', '.join(map(str, unknown))}",
        )
    await repository.replace_selection(
        session, competition_id, team_id or caller.user_id, wanted, caller.user_id
    )
    await place_entrant(session, outbox, mirror, competition_id, caller.user_id)
    return await final_selection(session, caller, competition_id)


async def team_members(
    session: AsyncSession, caller: Caller, competition_id: uuid.UUID
) -> dict[uuid.UUID, uuid.UUID]:
    """Return user id -> team id of every team member (owner or admin; for exports)."""
    await _owned(session, competition_id, caller)
    return await repository.entrants(session, competition_id)

"""All SQL of teams and final selections (STYLE 2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from podium_runtime.db import AnyRow
from sqlalchemy import ARRAY, any_, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from podium_competitions import read_model
from podium_competitions.leaderboard.models import leaderboard_submissions
from podium_competitions.models import users
from podium_competitions.teams.models import final_selections, team_members, team_requests, teams

m = team_members.c
t = teams.c


async def team_of(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    """Return the id of the user's team in a competition (None: a solo participant)."""
    found = await session.scalar(
        select(m.team_id).where(m.competition_id == competition_id, m.user_id == user_id)
    )
    return found if found is None else uuid.UUID(str(found))


async def insert_team(session: AsyncSession, values: dict[str, Any]) -> AnyRow:
    """Insert a team and return the stored row.

    The competition's read-model card says whether it has teams (the gateway then
    asks competitions whom an upload counts for): it is hidden until this commits.
    """
    result = await session.execute(insert(teams).values(**values).returning(teams))
    inserted: AnyRow = result.one()
    read_model.competition_changed(session, [inserted.competition_id])
    return inserted


async def get_team(
    session: AsyncSession, team_id: uuid.UUID, *, for_update: bool = False
) -> AnyRow | None:
    """Return a team row, optionally locked."""
    query = select(teams).where(t.id == team_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def team_by_invite_code(session: AsyncSession, code: str) -> AnyRow | None:
    """Return the team holding this invite code."""
    return (await session.execute(select(teams).where(t.invite_code == code))).first()


async def add_members(
    session: AsyncSession, competition_id: uuid.UUID, team_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> None:
    """Put users in a team (each user is in at most one team per competition)."""
    if user_ids:
        await session.execute(
            insert(team_members),
            [
                {"competition_id": competition_id, "user_id": u, "team_id": team_id}
                for u in user_ids
            ],
        )


async def remove_member(
    session: AsyncSession, competition_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    """Take a user out of their team; return the team they were in."""
    result = await session.execute(
        delete(team_members)
        .where(m.competition_id == competition_id, m.user_id == user_id)
        .returning(m.team_id)
    )
    found = result.scalar()
    return found if found is None else uuid.UUID(str(found))


async def move_members(session: AsyncSession, from_team: uuid.UUID, to_team: uuid.UUID) -> None:
    """Move every member of one team into another."""
    await session.execute(
        update(team_members).where(m.team_id == from_team).values(team_id=to_team)
    )


async def delete_team(session: AsyncSession, team_id: uuid.UUID) -> None:
    """Delete a team (its memberships go with it)."""
    await session.execute(delete(teams).where(t.id == team_id))


async def member_ids(session: AsyncSession, team_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the user ids of a team's members, earliest first."""
    rows = await session.execute(
        select(m.user_id).where(m.team_id == team_id).order_by(m.joined_at, m.user_id)
    )
    return [row.user_id for row in rows]


async def members(session: AsyncSession, team_id: uuid.UUID) -> list[AnyRow]:
    """Return a team's members with their display names, earliest first."""
    rows = await session.execute(
        select(m.user_id, func.coalesce(users.c.display_name, "").label("display_name"))
        .select_from(team_members.outerjoin(users, users.c.user_id == m.user_id))
        .where(m.team_id == team_id)
        .order_by(m.joined_at, m.user_id)
    )
    return list(rows.all())


async def entrants(session: AsyncSession, competition_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """Return user id -> team id of every team member of a competition."""
    rows = await session.execute(
        select(m.user_id, m.team_id).where(m.competition_id == competition_id)
    )
    return {row.user_id: row.team_id for row in rows}


async def members_of(
    session: AsyncSession, competition_id: uuid.UUID, team_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Return team id -> member ids (sorted) of those of `team_ids` that are teams."""
    ids = list(team_ids)
    if not ids:
        return {}
    wanted = literal(ids, type_=ARRAY(UUID(as_uuid=True)))
    rows = await session.execute(
        select(m.team_id, m.user_id)
        .where(m.competition_id == competition_id, m.team_id == any_(wanted))
        .order_by(m.team_id, m.user_id)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        found.setdefault(row.team_id, []).append(row.user_id)
    return found


async def selections_of(
    session: AsyncSession, competition_id: uuid.UUID, entrant_id: uuid.UUID
) -> set[uuid.UUID]:
    """Return the submission ids one entrant selected for the private board."""
    f = final_selections.c
    rows = await session.execute(
        select(f.submission_id).where(
            f.competition_id == competition_id, f.entrant_id == entrant_id
        )
    )
    return {row.submission_id for row in rows}


async def team_names(session: AsyncSession, team_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Return the names of `team_ids`."""
    ids = list(team_ids)
    if not ids:
        return {}
    wanted = literal(ids, type_=ARRAY(UUID(as_uuid=True)))
    rows = await session.execute(select(t.id, t.name).where(t.id == any_(wanted)))
    return {row.id: row.name for row in rows}


async def record_request(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store the outcome of a team join or merge request (a redelivery keeps the first)."""
    await session.execute(
        pg_insert(team_requests)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[team_requests.c.request_id])
    )


async def get_request(session: AsyncSession, request_id: uuid.UUID) -> AnyRow | None:
    """Return the outcome of a team request."""
    query = select(team_requests).where(team_requests.c.request_id == request_id)
    return (await session.execute(query)).first()


# --- final selections ------------------------------------------------------------


async def selection(
    session: AsyncSession, competition_id: uuid.UUID, entrant_id: uuid.UUID
) -> list[uuid.UUID]:
    """Return the submissions an entrant selected for the private board."""
    f = final_selections.c
    rows = await session.execute(
        select(f.submission_id)
        .where(f.competition_id == competition_id, f.entrant_id == entrant_id)
        .order_by(f.submission_id)
    )
    return [row.submission_id for row in rows]


async def selections(
    session: AsyncSession, competition_id: uuid.UUID
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Return entrant id -> selected submission ids of a whole competition."""
    f = final_selections.c
    rows = await session.execute(
        select(f.entrant_id, f.submission_id).where(f.competition_id == competition_id)
    )
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in rows:
        found.setdefault(row.entrant_id, set()).add(row.submission_id)
    return found


async def replace_selection(
    session: AsyncSession,
    competition_id: uuid.UUID,
    entrant_id: uuid.UUID,
    submission_ids: list[uuid.UUID],
    selected_by: uuid.UUID,
) -> None:
    """Store an entrant's selection in place of the previous one."""
    f = final_selections.c
    await session.execute(
        delete(final_selections).where(
            f.competition_id == competition_id, f.entrant_id == entrant_id
        )
    )
    if submission_ids:
        await session.execute(
            insert(final_selections),
            [
                {
                    "competition_id": competition_id,
                    "entrant_id": entrant_id,
                    "submission_id": sid,
                    "selected_by": selected_by,
                }
                for sid in submission_ids
            ],
        )


async def move_selection(
    session: AsyncSession, competition_id: uuid.UUID, from_entrant: uuid.UUID, to_entrant: uuid.UUID
) -> None:
    """Hand an entrant's selection to the team it merged into, unless that team has one."""
    f = final_selections.c
    target = await selection(session, competition_id, to_entrant)
    if target:
        await session.execute(
            delete(final_selections).where(
                f.competition_id == competition_id, f.entrant_id == from_entrant
            )
        )
        return
    await session.execute(
        update(final_selections)
        .where(f.competition_id == competition_id, f.entrant_id == from_entrant)
        .values(entrant_id=to_entrant)
    )


async def board_submissions_of(
    session: AsyncSession, competition_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> list[AnyRow]:
    """Return the scored, valid submissions of some users in a competition."""
    ls = leaderboard_submissions.c
    rows = await session.execute(
        select(ls.submission_id, ls.user_id, ls.public_score, ls.submitted_at).where(
            ls.competition_id == competition_id,
            ls.user_id.in_(list(user_ids)),
            ls.invalidated.is_(False),
            ls.public_score.is_not(None),
        )
    )
    return list(rows.all())

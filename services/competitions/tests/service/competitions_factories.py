"""Factories of the competitions service-level tests: rows made through the use cases."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis
from podium_competitions import service
from podium_competitions.models import competitions, metadata
from podium_competitions.schemas import Competition, CompetitionCreate
from podium_competitions.teams import repository as teams_repository
from podium_competitions.views import Caller
from podium_contracts.events import JoinData, ScoredData
from podium_contracts.read_models import BoardEntry
from podium_contracts.redis_keys import member_user_id
from podium_runtime.outbox import Outbox, messaging_tables, row_payloads
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession


def outbox() -> Outbox:
    """Return the competitions outbox (rows only: no relay runs in this tier)."""
    return Outbox(messaging_tables(metadata).outbox, "")


async def competition(session: AsyncSession, **fields: Any) -> Competition:
    """Create an active prediction competition that started an hour ago, owned by a new user."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "kind": "prediction",
        "title": "Churn",
        "status": "active",
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(days=7),
        "metric": "auc_roc",
        "late_join": True,
        **fields,
    }
    owner = Caller(uuid.uuid4())
    return await service.create_competition(
        session, outbox(), owner, CompetitionCreate.model_validate(values)
    )


async def end(session: AsyncSession, competition_id: uuid.UUID) -> None:
    """Move a competition's end a minute into the past: its private board is public knowledge."""
    await session.execute(
        update(competitions)
        .where(competitions.c.id == competition_id)
        .values(ends_at=datetime.now(UTC) - timedelta(minutes=1))
    )


async def team(
    session: AsyncSession, competition_id: uuid.UUID, name: str, created_by: uuid.UUID
) -> uuid.UUID:
    """Store a new team (no members yet) and return its id."""
    team_id = uuid.uuid4()
    await teams_repository.insert_team(
        session,
        {
            "id": team_id,
            "competition_id": competition_id,
            "name": name,
            "invite_code": uuid.uuid4().hex,
            "created_by": created_by,
        },
    )
    return team_id


def scored(
    competition_id: uuid.UUID,
    user_id: uuid.UUID,
    public: float,
    private: float | None = None,
    at: datetime | None = None,
) -> ScoredData:
    """Return a new submission's scores (AUC: higher is better), submitted and scored `at`."""
    when = at or datetime.now(UTC)
    return ScoredData(
        submission_id=uuid.uuid4(),
        competition_id=competition_id,
        user_id=user_id,
        metric="auc_roc",
        higher_is_better=True,
        public_score=public,
        private_score=public if private is None else private,
        submitted_at=when,
        scored_at=when,
    )


def join(competition_id: uuid.UUID, user_id: uuid.UUID | None = None) -> JoinData:
    """Return a join request of a new (or the given) user."""
    return JoinData(
        request_id=uuid.uuid4(), competition_id=competition_id, user_id=user_id or uuid.uuid4()
    )


async def mirrored_board(client: redis.Redis, keys: tuple[str, str, str]) -> list[BoardEntry]:
    """Read a whole board from its Redis mirror: each line at the rank of its position.

    Checks the layout on the way (ADR 0091): every member ends with its line's user id,
    every line is stored under its member, and a member other than the user id is the
    one the entries hash keeps as `<id>:at`; the hash holds nothing else.
    """
    ranks_key, entries_key, _ = keys
    members = [m.decode() for m in await client.zrange(ranks_key, 0, -1)]
    stored = {k.decode(): v.decode() for k, v in (await client.hgetall(entries_key)).items()}
    kept = {k.removesuffix(":at"): v for k, v in stored.items() if k.endswith(":at")}
    assert kept == {member_user_id(m): m for m in members if m != member_user_id(m)}
    assert len(stored) == len(members) + len(kept)
    lines = [
        BoardEntry.model_validate({**json.loads(stored[m]), "rank": rank})
        for rank, m in enumerate(members, start=1)
    ]
    assert [str(line.user_id) for line in lines] == [member_user_id(m) for m in members]
    return lines


async def announced_since(session: AsyncSession, seq: int) -> tuple[list[dict[str, Any]], int]:
    """Return the data of every `leaderboard.rank_changed` staged after outbox row `seq`,
    and the last row's seq. Each event has its own id and the competition as its key; a
    row may hold several (ADR 0097)."""
    table = messaging_tables(metadata).outbox
    rows = (
        await session.execute(
            select(table.c.seq, table.c.payload, table.c.key)
            .where(table.c.event_type == "leaderboard.rank_changed", table.c.seq > seq)
            .order_by(table.c.seq)
        )
    ).all()
    staged = [(row.key, json.loads(doc)) for row in rows for doc in row_payloads(row.payload)]
    assert len({event["id"] for _, event in staged}) == len(staged)
    assert all(key == event["data"]["competition_id"] for key, event in staged)
    return [event["data"] for _, event in staged], max([seq, *(row.seq for row in rows)])

"""Factories of the competitions service-level tests: rows made through the use cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from podium_competitions import service
from podium_competitions.models import metadata
from podium_competitions.schemas import Competition, CompetitionCreate
from podium_competitions.views import Caller
from podium_contracts.events import JoinData
from podium_runtime.outbox import Outbox, messaging_tables
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


def join(competition_id: uuid.UUID, user_id: uuid.UUID | None = None) -> JoinData:
    """Return a join request of a new (or the given) user."""
    return JoinData(
        request_id=uuid.uuid4(), competition_id=competition_id, user_id=user_id or uuid.uuid4()
    )

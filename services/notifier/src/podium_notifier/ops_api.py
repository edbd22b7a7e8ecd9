"""Operator reads of the notifier (internal, for the gateway's `/v1/admin/*`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter, Request
from podium_runtime.deps import SessionDep
from pydantic import BaseModel

from podium_notifier.scheduler import Scheduler

router = APIRouter(prefix="/internal", tags=["internal"])


class ReminderPreview(BaseModel):
    """A daily reminder that would go out today."""

    competition_id: uuid.UUID
    competition_title: str
    user_id: uuid.UUID
    timezone: str
    local_date: date
    due_at: datetime


class ReminderPreviewList(BaseModel):
    """Today's reminders, by competition and user."""

    items: list[ReminderPreview]


@router.get("/reminders/preview", response_model=ReminderPreviewList)
async def preview_reminders(request: Request, session: SessionDep) -> ReminderPreviewList:
    """Participants whose daily goal is still open on their local today (nothing is sent)."""
    scheduler: Scheduler = request.app.state.scheduler
    due = await scheduler.due_reminders(session, scheduler.clock(), whole_day=True)
    items = [
        ReminderPreview(
            competition_id=d.competition_id,
            competition_title=d.competition_title,
            user_id=d.user_id,
            timezone=d.timezone,
            local_date=d.day,
            due_at=d.due_at,
        )
        for d in sorted(due, key=lambda d: (d.due_at, str(d.competition_id), str(d.user_id)))
    ]
    return ReminderPreviewList(items=items)

"""Event handlers of the erasure (thin): the LRS erasure policy applied to a deleted user.

A platform user's statements are those whose actor is their platform account
(`account.homePage` = the platform URL, `name` = the user id) or their e-mail
(`mbox`, `mbox_sha1sum`); all are erased with the user's documents, as
`DELETE /v1/admin/xapi/agents` does for one agent, and the report projections
forget the user.
"""

from __future__ import annotations

import hashlib
import logging

from podium_contracts.events import UserDeleted
from podium_runtime.routing import EventRouter
from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.config import Settings
from podium_ingest.erasure import repository
from podium_ingest.privacy.service import erase_learner

log = logging.getLogger(__name__)

router = EventRouter()


def agent_keys(platform_url: str, user_id: str, email: str) -> list[str]:
    """Return every actor key that names this platform user."""
    platform = platform_url.rstrip("/")
    mailto = f"mailto:{email.lower()}"
    return [
        f"account:{platform}|{user_id}",
        f"account:{platform}/|{user_id}",
        f"mbox:{mailto}",
        f"mbox_sha1sum:{hashlib.sha1(mailto.encode()).hexdigest()}",  # noqa: S324 - xAPI's IFI
    ]


@router.handles(UserDeleted)
async def on_user_deleted(session: AsyncSession, event: UserDeleted, *, settings: Settings) -> None:
    """Erase the user's statements and documents and forget them in the reports."""
    user_id = str(event.data.user_id)
    statements = 0
    for key in agent_keys(settings.platform_url, user_id, event.data.email):
        statements += (await erase_learner(session, key)).statements
    await repository.forget_user(session, event.data.user_id)
    log.info("user erased", extra={"user_id": user_id, "statements": statements})

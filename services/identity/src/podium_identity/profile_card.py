"""Identity's part of the profile card: the account as `GET /v1/users/me` answers it (ADR 0074).

Every write of a `users` row goes through the repository, which records it
here; the part is hidden before the commit and rewritten after it
(`podium_runtime.profile_card`). A disabled account has no part: it is hidden
and not written again until the account is enabled and read.
"""

from __future__ import annotations

import uuid
from typing import Any

from podium_runtime.profile_card import cards_of
from sqlalchemy.ext.asyncio import AsyncSession

from podium_identity.schemas import UserOut


def account_part(user: Any) -> bytes | None:
    """Return the account part of a `users` row (None for a disabled account)."""
    if user.disabled_at is not None:
        return None
    return UserOut.of(user).model_dump_json().encode()


def account_changed(session: AsyncSession, user: Any) -> None:
    """Record that this transaction wrote the user's row."""
    cards = cards_of(session)
    if cards is not None:
        cards.changed(session, user.id, account_part(user))


def account_erased(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Record that this transaction deletes the user: the card goes after the commit."""
    cards = cards_of(session)
    if cards is not None:
        cards.erased(session, user_id)

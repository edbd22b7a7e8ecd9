"""The notifier's part of the profile card: the preference matrix of `/v1/users/me` (ADR 0074).

A change of a user's preferences records the new matrix here; the part is
hidden before the commit and rewritten after it (`podium_runtime.profile_card`).
An erased user's part is hidden (identity deletes the card itself).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from podium_runtime.profile_card import cards_of
from sqlalchemy.ext.asyncio import AsyncSession


def preferences_part(matrix: dict[str, Any]) -> bytes:
    """Return the preferences part of a full preference matrix."""
    return json.dumps(matrix, separators=(",", ":")).encode()


def preferences_changed(session: AsyncSession, user_id: uuid.UUID, matrix: dict[str, Any]) -> None:
    """Record that this transaction changes the user's preferences to `matrix`."""
    cards = cards_of(session)
    if cards is not None:
        cards.changed(session, user_id, preferences_part(matrix))


def preferences_erased(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Record that this transaction deletes the user's preferences: the part is hidden."""
    cards = cards_of(session)
    if cards is not None:
        cards.changed(session, user_id, None)

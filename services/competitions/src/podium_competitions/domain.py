"""Pure rules of competitions: status machine, time zones, joins (SPEC §5.2), rank changes."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from podium_contracts.codes import JoinRejection
from podium_contracts.eligibility import submission_refusal as _submission_refusal
from podium_contracts.read_models import competition_phase

# SPEC §5.2: draft -> active -> ended, draft|active -> canceled; nothing leaves ended/canceled.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "canceled"}),
    "active": frozenset({"ended", "canceled"}),
    "ended": frozenset(),
    "canceled": frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    """Tell whether a competition may move from `current` to `target` (same status is a no-op)."""
    return current == target or target in TRANSITIONS.get(current, frozenset())


#: `upcoming`, `running` or `ended` (SPEC §10.2); shared with the gateway's read model.
phase = competition_phase

#: Why the caller may not upload now (SPEC §5.3); shared with the gateway's read model.
submission_refusal = _submission_refusal


def new_invite_code() -> str:
    """Return an unguessable invite code (96 random bits, URL-safe)."""
    return secrets.token_urlsafe(12)


def invite_code_matches(expected: str | None, given: str | None) -> bool:
    """Compare invite codes in constant time; a competition without a code matches nothing."""
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class JoinTarget:
    """The facts of a competition a join decision depends on."""

    owner_id: object
    status: str
    visibility: str
    invite_code: str | None
    starts_at: datetime
    late_join: bool


def join_refusal(
    target: JoinTarget, user_id: object, invite_code: str | None, now: datetime
) -> JoinRejection | None:
    """Return why a new join must be refused, or None when only capacity remains to check.

    The caller handles "already enrolled" (idempotent accept) before and capacity after.
    The invite code is checked before status so strangers learn nothing about a private one.
    """
    if target.owner_id == user_id:
        return JoinRejection.OWNER_CANNOT_JOIN
    if target.visibility == "private" and not invite_code_matches(target.invite_code, invite_code):
        return JoinRejection.INVALID_INVITE_CODE
    if target.status != "active":
        return JoinRejection.COMPETITION_NOT_ACTIVE
    if now >= target.starts_at and not target.late_join:
        return JoinRejection.ALREADY_STARTED
    return None


class RankedLine(Protocol):
    """A participant's line on any board: prediction or activity."""

    @property
    def user_id(self) -> uuid.UUID:
        """The participant."""

    @property
    def rank(self) -> int:
        """Their rank, 1..N."""

    @property
    def score(self) -> float:
        """The score that ranks them."""


class RankChange(NamedTuple):
    """A participant whose rank on a board moved (None: not on the board).

    A named tuple: a line that climbs passes up to every line of a board, and one is
    made for each of them (half the cost of a frozen dataclass).
    """

    user_id: uuid.UUID
    old_rank: int | None
    new_rank: int | None
    score: float | None


def fold_changes(net: dict[uuid.UUID, RankChange], changes: Iterable[RankChange]) -> None:
    """Fold one placement's rank changes into a unit of work's, `net`, keyed by line: a
    line keeps its first old rank and takes its last new rank (a line whose ranks end
    equal did not move)."""
    for change in changes:
        held = net.get(change.user_id)
        if held is not None:
            change = RankChange(change.user_id, held.old_rank, change.new_rank, change.score)
        net[change.user_id] = change


def rank_changes(before: Mapping[uuid.UUID, int], after: Iterable[RankedLine]) -> list[RankChange]:
    """Return every participant whose rank differs between two versions of a board.

    Arrivals and moves come in the new board's order, then departures in the old one's.
    """
    changes = []
    seen = set()
    for entry in after:
        seen.add(entry.user_id)
        if before.get(entry.user_id) != entry.rank:
            changes.append(
                RankChange(entry.user_id, before.get(entry.user_id), entry.rank, entry.score)
            )
    for user_id, rank in before.items():
        if user_id not in seen:
            changes.append(RankChange(user_id, rank, None, None))
    return changes

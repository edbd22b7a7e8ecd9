"""Redis keys shared between services: the one place their format is defined (SPEC §6, §7).

The gateway reads leaderboards straight from Redis and counts daily
submissions there; the competitions service writes the leaderboard mirror and
gives daily slots back when a submission is rejected. Both build keys here.
Pure functions, no I/O.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Literal

Split = Literal["public", "private"]
Period = Literal["all", "day", "week", "month"]

#: Every shared key starts with this; test runs stay apart because ids are random UUIDs.
NAMESPACE = "podium:"

#: Daily counters outlive their UTC day by a day, so a late rejection still finds its slot.
DAILY_SUBMISSIONS_TTL_SECONDS = 2 * 24 * 3600


def utc_day(at: datetime) -> date:
    """Return the UTC calendar day of an aware instant (the daily limit's day, SPEC §5.3)."""
    return at.astimezone(UTC).date()


def next_utc_midnight(at: datetime) -> datetime:
    """Return the instant the daily limit resets after `at`."""
    day = utc_day(at)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def daily_submissions_key(competition_id: uuid.UUID, user_id: uuid.UUID, day: date) -> str:
    """Return the Redis SET of submission ids that use a participant's slots on one UTC day.

    A set rather than a counter: adding the same submission twice (a retried
    request) and removing it twice (a redelivered `submission.rejected`) are
    both no-ops, so the count (`SCARD`) stays exact under at-least-once delivery.
    """
    return f"{NAMESPACE}submissions:daily:{competition_id}:{user_id}:{day.isoformat()}"


def daily_rejections_key(competition_id: uuid.UUID, user_id: uuid.UUID, day: date) -> str:
    """Return the Redis SET of a participant's submissions rejected on one UTC day.

    Rejected uploads give their daily slot back (SPEC §7.1) but count against a
    separate daily limit of their own (the gateway's `daily_rejected_upload_limit`),
    so files that are never valid cannot be uploaded without end. Keyed by the
    uploader, a set for the same reason as `daily_submissions_key`.
    """
    return f"{NAMESPACE}submissions:rejected:{competition_id}:{user_id}:{day.isoformat()}"


#: Every board's keys start with this. The layout's version is part of it: a board in an
#: older layout is simply absent under these keys, so the audit writes it anew and a
#: reader of one layout never reads the other's (ADR 0091).
BOARDS = f"{NAMESPACE}leaderboard:v2:"


def leaderboard_ranks_key(competition_id: uuid.UUID, split: Split) -> str:
    """Return the sorted set of a board's lines in rank order (SPEC §7.2, ADR 0091).

    A line's rank is its position (`ZRANK` + 1): ranks are dense 1..N in the board's
    order, so a page is `ZRANGE key start stop`, and a line that moves is the only
    member that changes, however many lines it passes. The members' order is the
    board's: on a prediction board the score is the line's `order_score` and the
    member `board_member` of its tie-breaks and user id; on an activity board the score
    is the points negated and the member `activity_member` (ADR 0094). Either way a
    member ends with the user id (`member_user_id`).
    """
    return f"{BOARDS}{competition_id}:{split}:ranks"


def leaderboard_entries_key(competition_id: uuid.UUID, split: Split) -> str:
    """Return the hash of a board's lines: member -> JSON `{user_id, score, ...}`.

    The JSON holds no rank (readers add the position's), and is stored under the
    line's member, so a page is `ZRANGE` then `HMGET` of what it returned. Where a
    line's member is not its user id, the field `<user id>:at` holds the member.
    """
    return f"{BOARDS}{competition_id}:{split}:entries"


def leaderboard_meta_key(competition_id: uuid.UUID, split: Split) -> str:
    """Return the hash with a board's `as_of` instant and `total` entries."""
    return f"{BOARDS}{competition_id}:{split}:meta"


#: Characters of a user id (a UUID's text) at the end of every board member.
_USER_ID_CHARS = 36


def board_member(best_at_micros: int, submission_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """Return a prediction line's member: its tie-breaks, then its user id (ADR 0091).

    Lines of equal `order_score` (the zset score) sort by member, bytewise: fixed-width
    hex of the best submission's instant (microseconds since the epoch), then of its
    id, which is the board's order (SPEC §7.2: ties to the earlier submission).
    """
    return f"{best_at_micros:016x}{submission_id.hex}{user_id}"


def activity_member(reached_at_micros: int, user_id: uuid.UUID) -> str:
    """Return an activity line's member: the instant it reached its points, then its user id.

    Lines of equal points (the zset score, negated) sort by member, bytewise: fixed-width
    hex of that instant (microseconds since the epoch), which is the board's order
    (SPEC §7.3: ties to whoever reached the total first), then the user id.
    """
    return f"{reached_at_micros:016x}{user_id}"


def member_user_id(member: bytes | str) -> str:
    """Return the user id a board member ends with."""
    text = member.decode() if isinstance(member, bytes) else member
    return text[-_USER_ID_CHARS:]


def board_changes_channel(meta_key: str) -> str:
    """Return the pub/sub channel announcing each new version of a board, by its meta key.

    The writer of the board publishes the new `as_of` there once Redis holds it; the
    gateway's board streams wait on it instead of polling the meta hash.
    """
    return f"{meta_key}:changed"


def period_start(period: Period, day: date) -> date | None:
    """Return the first local day of the day, week (Monday, SPEC §7.3) or month holding `day`.

    None for `all`, which has a single board.
    """
    if period == "all":
        return None
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def activity_board_keys(
    competition_id: uuid.UUID, period: Period, start: date | None
) -> tuple[str, str, str]:
    """Return the ranks, entries and meta keys of an activity board (SPEC §7.3).

    The same three-key layout as a prediction board; `start` is `period_start()` of
    the board's local day in the competition's time zone (None for `all`).
    """
    bucket = "all" if period == "all" or start is None else start.isoformat()
    base = f"{BOARDS}{competition_id}:points:{period}:{bucket}"
    return f"{base}:ranks", f"{base}:entries", f"{base}:meta"


def live_channel(user_id: uuid.UUID | str) -> str:
    """Return the pub/sub channel of one user's live messages (SPEC §5.6)."""
    return f"{NAMESPACE}live:{user_id}"


#: Prefix of the gateway's own keys (its `redis_key_prefix` setting by default).
GATEWAY_PREFIX = f"{NAMESPACE}gateway:"


def xapi_claim_key(statement_id: str, prefix: str = GATEWAY_PREFIX) -> str:
    """Return the key of a statement id's claim (gateway claims it, ingest releases it)."""
    return f"{prefix}xapi:claim:{statement_id}"


def xapi_voidings_key(statement_id: str, prefix: str = GATEWAY_PREFIX) -> str:
    """Return the set of accepted voiding statements that target a statement id."""
    return f"{prefix}xapi:voidings:{statement_id}"


def access_token_revoked_key(jti: str) -> str:
    """Return the deny-list entry of one access token (set at logout until it expires)."""
    return f"{NAMESPACE}auth:revoked:{jti}"


def tokens_revoked_before_key(user_id: uuid.UUID) -> str:
    """Return the instant (epoch seconds) before which a user's access tokens are void.

    Set by identity when a password is reset; the gateway refuses older tokens.
    """
    return f"{NAMESPACE}auth:revoked-before:{user_id}"


def competition_card_key(competition_id: uuid.UUID) -> str:
    """Return the string holding a competition's read-model card (JSON, ADR 0041).

    Written only by the competitions service; the gateway decides visibility and
    renders competition details from it. Absent means "ask the internal API".
    """
    return f"{NAMESPACE}competition:{competition_id}:card"


def competition_members_key(competition_id: uuid.UUID) -> str:
    """Return the hash of a competition's accepted participants: user id -> "1" (ADR 0041).

    It always holds the field `MEMBERS_LOADED` once written, so an empty
    competition is told apart from a missing hash.
    """
    return f"{NAMESPACE}competition:{competition_id}:members"


def competition_fence_key(competition_id: uuid.UUID) -> str:
    """Return the hash fencing read-model writes of a competition (ADR 0041).

    Fields: `gen` (bumped by every change and every rebuild), `pending`
    (transactions between their invalidation and their end) and `rm:<user id>`
    (bumped when a participant is removed).
    """
    return f"{NAMESPACE}competition:{competition_id}:fence"


#: The field every written members hash holds (user ids are UUIDs, never this).
MEMBERS_LOADED = "*"


def profile_card_key(user_id: uuid.UUID | str) -> str:
    """Return the hash holding a user's profile card, the parts of `GET /v1/users/me` (ADR 0074).

    Fields: `account` (identity's `UserOut` JSON), `preferences` (the notifier's
    preference matrix JSON) and, for each part, `<part>:v`, the version token
    its writers compare and replace (`podium_runtime.profile_card`). Each part
    is written only by its owner; a missing part means "ask the owner".
    """
    return f"{NAMESPACE}profile:{user_id}"

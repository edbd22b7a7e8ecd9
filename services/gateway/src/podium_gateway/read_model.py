"""The competitions read model in Redis: visibility and details in one round trip (ADR 0041).

The competitions service writes, for each competition, a card (the facts that
decide who may see it, and its details document) and the set of its accepted
participants, hiding the card before any change commits (`podium_competitions
.read_model`). The gateway reads card and membership in one Lua script (atomic,
like a MULTI), together with a board page when the caller asks for one, and
decides here:

- a card that is missing (never written, hidden by a change in flight, lost) is a
  *miss*: the route asks the internal API, which reads Postgres, and asks the
  competitions service to write the card again;
- the read model answers only what it holds exactly: anonymous visitors and
  strangers on public competitions get the details from the card; members,
  the owner and admins are let through to the boards; a participant's upload to
  a competition without teams is judged from the card (ADR 0084). Everything
  else (a participant's own `viewer` block, the owner's invite code, a 404,
  whom a team member's upload counts for) comes from the internal API.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from podium_contracts.eligibility import submission_refusal
from podium_contracts.read_models import CompetitionCard, competition_phase
from podium_contracts.redis_keys import (
    MEMBERS_LOADED,
    competition_card_key,
    competition_members_key,
)
from podium_runtime.problems import Problem
from podium_runtime.script_line import Scripts
from redis.commands.core import AsyncScript

from podium_gateway.auth import GATE_FUNCTION, CurrentUser, Gate
from podium_gateway.clients.competitions import CompetitionsClient, CompetitionView, ViewerView
from podium_gateway.rendered import Rendered

log = logging.getLogger(__name__)

#: A board page read in the same round trip: its (ranks, entries, meta) keys, first and last rank.
PageRead = tuple[tuple[str, str, str], tuple[int, int]]

# Lua: one board page, ranks, entries and meta from the same version, as one bulk string of
# rows joined by newlines (stored JSON has none): one reply to parse, and the bytes the
# rendered answer is kept under (`podium_gateway.rendered`). Lines are stored under their
# members, without their rank, which is their position (ADR 0091): a missing line is an
# empty row, so each row's position stays its rank (`leaderboard_api._entries`).
_PAGE_FUNCTION = """
local function page(ranks, entries, meta, first, last)
  local members = redis.call('ZRANGE', ranks, first, last)
  local rows = {}
  if #members > 0 then
    for i, row in ipairs(redis.call('HMGET', entries, unpack(members))) do
      rows[i] = row or ''
    end
  end
  return {table.concat(rows, '\\n'), redis.call('HMGET', meta, 'as_of', 'total')}
end
"""

#: One board page: KEYS ranks, entries, meta; ARGV first and last position (0-based).
PAGE_SCRIPT = _PAGE_FUNCTION + "return page(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])"

#: The caller's line and the lines around it, atomically: KEYS ranks, entries, meta; ARGV
#: the caller's user id and how many lines either side. Returns the page read as
#: `PAGE_SCRIPT` does, then the caller's rank (false when not on the board).
AROUND_SCRIPT = (
    _PAGE_FUNCTION
    + """
local at = redis.call('HGET', KEYS[2], ARGV[1] .. ':at') or ARGV[1]
local index = redis.call('ZRANK', KEYS[1], at)
if not index then return {'', redis.call('HMGET', KEYS[3], 'as_of', 'total'), false} end
local board = page(KEYS[1], KEYS[2], KEYS[3], math.max(0, index - tonumber(ARGV[2])),
  index + tonumber(ARGV[2]))
return {board[1], board[2], index + 1}
"""
)

# The caller's checks (`auth.Gate`: rate limit, token revocation), the card, the caller's
# membership (and the "loaded" mark) and optionally a page, in one script: atomic like a
# MULTI, one command for the client to pack and parse. KEYS card, members, the gate's
# n keys (0, 1 or 3)[, ranks, entries, meta]; ARGV member field, n, window ms, issued
# at[, first, last].
_SNAPSHOT = (
    GATE_FUNCTION
    + _PAGE_FUNCTION
    + """
local n = tonumber(ARGV[2])
local verdict = false
if n > 0 then
  verdict = gate(KEYS[3], ARGV[3], n == 3 and KEYS[4], KEYS[5], ARGV[4])
end
local seen = redis.call('HMGET', KEYS[2], '*', ARGV[1])
local board = false
if #KEYS == n + 5 then
  board = page(KEYS[n + 3], KEYS[n + 4], KEYS[n + 5], ARGV[5], ARGV[6])
end
return {redis.call('GET', KEYS[1]), seen[1], seen[2], board, verdict}
"""
)

#: The snapshot script's text (loaded by the edge's own connection, `script_line`).
SNAPSHOT_SCRIPT = _SNAPSHOT
#: The snapshot script, sent by its SHA1 (`EVALSHA`, loaded on the first `NOSCRIPT`): its
#: text is longer than everything else in the command.
_SNAPSHOT_SCRIPT = AsyncScript(None, _SNAPSHOT.encode())  # type: ignore[arg-type]

#: Repairs under way by competition, kept referenced until they finish (one at a time each).
_REPAIRS: dict[uuid.UUID, asyncio.Task[None]] = {}

#: Cards parsed from the bytes read (frozen models, shared by the requests that read them).
CARDS: Rendered[CompetitionCard] = Rendered(1024)
#: Details answers rendered from a card's bytes and the phase of the moment (ADR 0061).
DETAILS: Rendered[bytes] = Rendered(1024)


@dataclass(frozen=True)
class Snapshot:
    """What the read model holds about a competition and the caller, read atomically."""

    card: CompetitionCard | None
    member: bool
    page: Any = None
    #: The card as stored (the key its renderings are kept under).
    raw: bytes | None = None

    def visible(self, user: CurrentUser | None) -> bool:
        """Tell whether the caller may see the competition (its card must be present)."""
        card = self.card
        if card is None:
            return False
        if card.is_public():
            return True
        if user is None:
            return False
        return user.is_admin or card.owner_id == user.user_id or self.member

    def view(self, user: CurrentUser | None) -> CompetitionView:
        """Return the competition as the routes decide on it (card present and visible)."""
        card = self.card
        assert card is not None
        role = "viewer"
        if user is not None and card.owner_id == user.user_id:
            role = "sponsor"
        elif self.member:
            role = "participant"
        return CompetitionView(
            id=card.id,
            owner_id=card.owner_id,
            kind=card.kind,
            status=card.status,
            starts_at=card.starts_at,
            ends_at=card.ends_at,
            timezone=card.timezone,
            daily_submission_limit=card.daily_submission_limit,
            metric=card.metric,
            viewer=ViewerView(role=role),
        )

    def answers_details(self, user: CurrentUser | None) -> bool:
        """Tell whether the card holds the details exactly as this caller must see them.

        That is a public competition read by an anonymous visitor or by a signed-in
        stranger (neither owner, admin nor participant); otherwise the route asks
        the internal API.
        """
        card = self.card
        if card is None or not card.is_public():
            return False
        return user is None or not (user.is_admin or card.owner_id == user.user_id or self.member)

    def details(self, user: CurrentUser | None) -> dict[str, Any] | None:
        """Return the details document when the card answers for this caller exactly, else None."""
        card = self.card
        if card is None or not self.answers_details(user):
            return None
        document = dict(card.document)
        now = datetime.now(UTC)
        document["phase"] = competition_phase(card.status, card.starts_at, card.ends_at, now)
        return document

    def details_body(self, user: CurrentUser | None) -> bytes | None:
        """Return `details(user)` as the JSON answer's bytes, rendered once per card and phase."""
        card = self.card
        if card is None or self.raw is None or not self.answers_details(user):
            return None
        phase = competition_phase(card.status, card.starts_at, card.ends_at, datetime.now(UTC))

        def render() -> bytes:
            return _render({**card.document, "phase": phase})

        return DETAILS.get((self.raw, phase), render)


def _render(document: Any) -> bytes:
    """Return `document` encoded exactly as `JSONResponse` encodes it."""
    return bytes(JSONResponse(document).body)


def parse_card(raw: bytes) -> CompetitionCard:
    """Return the card stored as `raw`, parsed once per content."""
    return CARDS.get(raw, lambda: CompetitionCard.model_validate_json(raw))


async def snapshot(
    scripts: Scripts,
    competition_id: uuid.UUID,
    user: CurrentUser | None,
    page: PageRead | None = None,
    gate: Gate | None = None,
) -> Snapshot:
    """Read the card, the caller's membership and optionally a board page atomically.

    With `gate`, the caller's rate limit and token revocation are checked in the same
    script and settled (401, 429) before anything read is used.
    """
    found, verdict = await read(scripts, competition_id, user, page, gate)
    if gate is not None:
        gate.settle(verdict)
    return found


async def read(
    scripts: Scripts,
    competition_id: uuid.UUID,
    user: CurrentUser | None,
    page: PageRead | None = None,
    gate: Gate | None = None,
) -> tuple[Snapshot, Any]:
    """Read like `snapshot`, returning the gate's verdict unsettled (`Gate.settle` decides).

    Nothing read may be used before the verdict is settled. `scripts`: the app's
    (`app.state.scripts`, ADR 0101); an error on its line (a lost connection) raises.
    """
    keys, args = snapshot_command(competition_id, user, page, gate)
    answer = await scripts.run(_SNAPSHOT_SCRIPT, keys, args)
    return parse_snapshot(answer, user, page)


def snapshot_command(
    competition_id: uuid.UUID,
    user: CurrentUser | None,
    page: PageRead | None = None,
    gate: Gate | None = None,
) -> tuple[list[str], list[Any]]:
    """Return the keys and arguments of the snapshot script for this read."""
    member_field = str(user.user_id) if user is not None else MEMBERS_LOADED
    keys = [competition_card_key(competition_id), competition_members_key(competition_id)]
    args: list[Any] = [member_field, 0, 0, 0]
    if gate is not None:
        checked = gate.keys()
        keys += checked
        args[1:] = [len(checked), *gate.arguments()]
    if page is not None:
        keys += page[0]
        args += page[1]
    return keys, args


def parse_snapshot(
    answer: Any, user: CurrentUser | None, page: PageRead | None = None
) -> tuple[Snapshot, Any]:
    """Return the snapshot and the gate's verdict (unsettled) from the script's reply."""
    raw, loaded, member, board, verdict = answer
    card = parse_card(raw) if raw is not None and loaded else None
    found = Snapshot(
        card=card,
        member=user is not None and member is not None,
        page=board if page is not None else None,
        raw=raw if card is not None else None,
    )
    return found, verdict


def repair(client: CompetitionsClient, competition_id: uuid.UUID) -> None:
    """Ask the competitions service to write the card again (in the background, once at a time)."""
    if competition_id in _REPAIRS:
        return

    async def ask() -> None:
        try:
            await client.rebuild_read_model(competition_id)
        except Exception:  # a failed repair only means the next read misses too
            log.warning("read model repair failed", extra={"competition_id": str(competition_id)})

    task = asyncio.create_task(ask())
    _REPAIRS[competition_id] = task
    task.add_done_callback(lambda _: _REPAIRS.pop(competition_id, None))


async def competition(
    client: CompetitionsClient,
    scripts: Scripts,
    competition_id: uuid.UUID,
    user: CurrentUser | None,
    page: PageRead | None = None,
    gate: Gate | None = None,
) -> tuple[CompetitionView, Any]:
    """Return the competition as `user` sees it, and the page read with it (if any).

    From the read model when the card is present and lets the caller see it;
    otherwise from the internal API (problems, 404 included, raise `Relayed`).
    `gate`: the caller's checks still to make (see `snapshot`).
    """
    found = await snapshot(scripts, competition_id, user, page, gate)
    if found.visible(user):
        return found.view(user), found.page
    if found.card is None:
        repair(client, competition_id)
    return await client.competition(competition_id, user), None


async def submit_target(
    client: CompetitionsClient,
    scripts: Scripts,
    competition_id: uuid.UUID,
    user: CurrentUser,
    gate: Gate | None = None,
) -> CompetitionView:
    """Return the competition `user` may upload a prediction to now; raise the refusal's problem.

    Judged from the read model (SPEC §5.3 rules, `podium_contracts.eligibility`) when it
    holds every fact exactly: the card, the caller's accepted enrollment, and no team in
    the competition (the daily limit then counts for the caller). Otherwise competitions
    answers from Postgres (ADR 0084); a missing card is also repaired. `gate`: the
    caller's checks still to make, settled in the same read (401, 429) before anything
    else is decided.
    """
    found = await snapshot(scripts, competition_id, user, gate=gate)
    card = found.card
    if card is not None and found.member and card.teams is False and card.owner_id != user.user_id:
        now = datetime.now(UTC)
        refusal = submission_refusal(
            card.kind, card.status, card.starts_at, card.ends_at, True, now
        )
        if refusal is not None:
            raise Problem(refusal.status, refusal.code, refusal.detail)
        return found.view(user)
    if card is None:
        repair(client, competition_id)
    return (await client.may_submit(competition_id, user)).admitted()

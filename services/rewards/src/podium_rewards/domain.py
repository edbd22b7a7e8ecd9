"""Pure rules of the rewards service: drawing states, the fair draw, eligibility, odds, points.

The draw is commit-reveal (docs/rewards-fairness.md, procedure `podium-draw-v1`):

1. At close the ticket list is frozen. Each ticket is the line
   `"<number>:<holder>\\n"` (UTF-8), tickets in ascending number (1..N), where
   `holder = sha256("<drawing_id>:<user_id>")[:16]` (hex) is a pseudonym of
   the buyer. `tickets_digest = sha256(all lines)`. A 256-bit seed is drawn
   from the OS CSPRNG and `commitment = sha256(seed)` is published.
2. At drawing time the seed is revealed. The k-th random value is
   `HMAC-SHA256(key=seed, msg=bytes.fromhex(tickets_digest) || k as 8-byte big-endian)`,
   read as a 256-bit big-endian integer `x`, for k = 0, 1, 2, ...
   With `limit = 2**256 - (2**256 mod N)`, a value `x >= limit` is rejected
   (no modulo bias); otherwise ticket `x mod N + 1` is drawn.
3. Prize units are served in rank order (rank 1 first; a prize of quantity q
   gives q consecutive units). For each unit, values are drawn until a ticket
   whose holder has not won yet comes up (nobody wins twice); the counter goes
   on from where the previous unit stopped. When every holder has won, the
   remaining units are not awarded.
4. A forfeited unit is redrawn later by continuing the same stream from the
   counter where the previous pick stopped; the forfeiting holder stays
   excluded. The proof lists the forfeited units in the order they were redrawn.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

DrawingStatus = Literal["draft", "scheduled", "open", "closed", "completed", "cancelled"]
PROCEDURE = "podium-draw-v1"
SEED_BYTES = 32
_SPACE = 1 << 256

#: Allowed moves of a drawing (SPEC §10.4); `completed` only through execution.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"scheduled", "cancelled"}),
    "scheduled": frozenset({"draft", "open", "cancelled"}),
    "open": frozenset({"closed", "cancelled"}),
    "closed": frozenset({"completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


def can_move(current: str, target: str) -> bool:
    """Tell whether a drawing in `current` may move to `target`."""
    return target in TRANSITIONS.get(current, frozenset())


# --- the fair draw -----------------------------------------------------------------


def holder_pseudonym(drawing_id: str, user_id: str) -> str:
    """Return the published stand-in for a buyer: 16 hex digits of sha256(drawing:user)."""
    return hashlib.sha256(f"{drawing_id}:{user_id}".encode()).hexdigest()[:16]


def ticket_lines(holders: Sequence[str]) -> bytes:
    """Return the canonical ticket list: `<number>:<holder>\\n` for tickets 1..N."""
    return "".join(f"{n}:{h}\n" for n, h in enumerate(holders, start=1)).encode()


def tickets_digest(holders: Sequence[str]) -> str:
    """Return the SHA-256 (hex) of the canonical ticket list."""
    return hashlib.sha256(ticket_lines(holders)).hexdigest()


def commitment(seed_hex: str) -> str:
    """Return the published commitment to a seed: SHA-256 of its 32 bytes, hex."""
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def random_value(seed_hex: str, digest_hex: str, counter: int) -> int:
    """Return the `counter`-th 256-bit value of the draw stream."""
    message = bytes.fromhex(digest_hex) + counter.to_bytes(8, "big")
    block = hmac.new(bytes.fromhex(seed_hex), message, hashlib.sha256).digest()
    return int.from_bytes(block, "big")


def ticket_index(value: int, count: int) -> int | None:
    """Map a 256-bit value to 0..count-1 without bias; None when rejected."""
    limit = _SPACE - (_SPACE % count)
    return None if value >= limit else value % count


@dataclass(frozen=True)
class Pick:
    """One unit's winner: its ticket number, holder, and the counter that drew it."""

    unit: int
    ticket_number: int
    holder: str
    counter: int


class DrawStream:
    """Draws winners from a seed and a frozen ticket list, remembering who already won."""

    def __init__(
        self,
        seed_hex: str,
        holders: Sequence[str],
        *,
        counter: int = 0,
        excluded: Iterable[str] = (),
    ) -> None:
        self.seed = seed_hex
        self.holders = list(holders)
        self.digest = tickets_digest(self.holders)
        self.counter = counter
        self.excluded = set(excluded)
        self._distinct = set(self.holders)

    def next_pick(self, unit: int) -> Pick | None:
        """Draw the next winner for `unit`; None when every holder has already won."""
        if not self.holders or self._distinct <= self.excluded:
            return None
        while True:
            value = random_value(self.seed, self.digest, self.counter)
            counter = self.counter
            self.counter += 1
            index = ticket_index(value, len(self.holders))
            if index is None:
                continue
            holder = self.holders[index]
            if holder in self.excluded:
                continue
            self.excluded.add(holder)
            return Pick(unit, index + 1, holder, counter)


def draw(
    seed_hex: str, holders: Sequence[str], units: int, redraws: Sequence[int] = ()
) -> list[Pick]:
    """Run the whole procedure: `units` picks in order, then one pick per redrawn unit."""
    stream = DrawStream(seed_hex, holders)
    picks: list[Pick] = []
    for unit in range(1, units + 1):
        pick = stream.next_pick(unit)
        if pick is None:
            break
        picks.append(pick)
    for unit in redraws:
        pick = stream.next_pick(unit)
        if pick is None:
            break
        picks.append(pick)
    return picks


@dataclass(frozen=True)
class PrizeUnit:
    """One unit of a prize, in rank order."""

    unit: int
    rank: int
    index: int


def prize_units(prizes: Iterable[tuple[int, int]]) -> list[PrizeUnit]:
    """Expand `(rank, quantity)` pairs into numbered units, rank 1 first."""
    units: list[PrizeUnit] = []
    for rank, quantity in sorted(prizes):
        for index in range(quantity):
            units.append(PrizeUnit(len(units) + 1, rank, index))
    return units


# --- odds, eligibility, points --------------------------------------------------------


@dataclass(frozen=True)
class Odds:
    """A buyer's chance on the first draw: their tickets over all tickets."""

    my_tickets: int
    total_tickets: int
    chance: float
    one_in: float | None


def odds(mine: int, total: int) -> Odds:
    """Return the odds of `mine` tickets among `total` on one draw."""
    if mine <= 0 or total <= 0:
        return Odds(mine, total, 0.0, None)
    return Odds(mine, total, mine / total, round(total / mine, 2))


def age_on(birthdate: date, day: date) -> int:
    """Return the age in whole years on `day` (29 February birthdays count on 1 March)."""
    years = day.year - birthdate.year
    if (day.month, day.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


def eligibility_refusal(
    min_age: int | None,
    regions: Sequence[str] | None,
    birthdate: date | None,
    region: str | None,
    today: date,
) -> str | None:
    """Return why a buyer may not enter (a stable reason code), None when they may.

    Reasons: `BIRTHDATE_REQUIRED`, `UNDER_MIN_AGE`, `REGION_REQUIRED`,
    `REGION_NOT_ALLOWED`. A region is an ISO 3166-1 alpha-2 country, or a
    3166-2 subdivision (`US-CA`) that also matches its country in the list.
    """
    if min_age is not None:
        if birthdate is None:
            return "BIRTHDATE_REQUIRED"
        if age_on(birthdate, today) < min_age:
            return "UNDER_MIN_AGE"
    if regions:
        if region is None:
            return "REGION_REQUIRED"
        allowed = {r.upper() for r in regions}
        if region.upper() not in allowed and region.upper().split("-")[0] not in allowed:
            return "REGION_NOT_ALLOWED"
    return None


def whole_points(points: float) -> int:
    """Credit activity points as whole wallet points, rounding halves up."""
    return max(0, math.floor(points + 0.5))


def expiry(created: datetime, days: int) -> datetime | None:
    """Return when points credited at `created` expire (None: never)."""
    from datetime import timedelta

    return created + timedelta(days=days) if days > 0 else None

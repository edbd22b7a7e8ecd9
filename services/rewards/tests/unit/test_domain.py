"""Pure rules: the state machine, the fair draw (with a chi-square test), eligibility, odds."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import date

import pytest
from podium_rewards import domain
from podium_rewards.verify import verify_proof
from scipy.stats import chi2

#: Significance of the fairness tests: a fair procedure fails them with probability 0.1 %.
#: Seeds are derived deterministically, so the outcome is reproducible run after run.
ALPHA = 0.001
DRAWINGS = 20_000


def seeds(count: int, label: str) -> list[str]:
    """Deterministic 256-bit seeds (the service draws them from `secrets`)."""
    return [hashlib.sha256(f"{label}:{i}".encode()).hexdigest() for i in range(count)]


def chi_square_passes(observed: Counter[int], expected: dict[int, float]) -> tuple[bool, float]:
    """Pearson's chi-square goodness of fit at ALPHA; return the verdict and the statistic."""
    statistic = sum((observed.get(k, 0) - e) ** 2 / e for k, e in expected.items())
    critical = float(chi2.ppf(1 - ALPHA, len(expected) - 1))
    return statistic <= critical, statistic


def first_prize_counts(
    holders: list[str], pick: Callable[[str, list[str]], int], label: str
) -> Counter[int]:
    return Counter(pick(seed, holders) for seed in seeds(DRAWINGS, label))


def fair_pick(seed: str, holders: list[str]) -> int:
    return domain.draw(seed, holders, 1)[0].ticket_number


def test_each_ticket_wins_as_often_as_any_other() -> None:
    holders = [f"h{i:02d}" for i in range(10)]
    counts = first_prize_counts(holders, fair_pick, "uniform")
    ok, statistic = chi_square_passes(counts, {n: DRAWINGS / 10 for n in range(1, 11)})
    assert ok, f"chi-square {statistic:.2f} above the critical value at alpha={ALPHA}"


def test_a_buyer_wins_first_prize_in_proportion_to_their_tickets() -> None:
    # Holder a: 1 ticket, b: 2, c: 3, d: 4 (ten tickets, odd count not a power of two).
    holders = ["a"] + ["b"] * 2 + ["c"] * 3 + ["d"] * 4
    wins = Counter(domain.draw(seed, holders, 1)[0].holder for seed in seeds(DRAWINGS, "weighted"))
    observed = Counter({"abcd".index(h): n for h, n in wins.items()})
    expected = {i: DRAWINGS * (i + 1) / 10 for i in range(4)}
    ok, statistic = chi_square_passes(observed, expected)
    assert ok, f"chi-square {statistic:.2f}"


def test_the_chi_square_check_catches_a_biased_procedure() -> None:
    def biased(seed: str, holders: list[str]) -> int:
        # Modulo of a small number: tickets 1..6 twice as likely as 7..10.
        return int(seed[:2], 16) % 16 % len(holders) + 1

    holders = [f"h{i:02d}" for i in range(10)]
    counts = first_prize_counts(holders, biased, "biased")
    assert not chi_square_passes(counts, {n: DRAWINGS / 10 for n in range(1, 11)})[0]


def test_rejection_sampling_refuses_the_biased_tail() -> None:
    space = 1 << 256
    limit = space - space % 3
    assert domain.ticket_index(limit - 1, 3) == (limit - 1) % 3
    assert domain.ticket_index(limit, 3) is None
    assert domain.ticket_index(space - 1, 3) is None
    assert domain.ticket_index(space - 1, 1 << 10) == (space - 1) % 1024  # no tail: 2**k divides


def test_prizes_go_in_rank_order_and_nobody_wins_twice() -> None:
    holders = ["a"] * 50 + ["b", "c", "d"]
    units = domain.prize_units([(2, 2), (1, 1)])
    assert [(u.unit, u.rank, u.index) for u in units] == [(1, 1, 0), (2, 2, 0), (3, 2, 1)]
    for seed in seeds(200, "distinct"):
        picks = domain.draw(seed, holders, 3)
        assert [p.unit for p in picks] == [1, 2, 3]
        assert len({p.holder for p in picks}) == 3
        assert [p.counter for p in picks] == sorted(p.counter for p in picks)
    # Fewer holders than prize units: the rest is not awarded.
    assert len(domain.draw(seeds(1, "few")[0], ["a", "a", "b"], 5)) == 2
    assert domain.draw(seeds(1, "none")[0], [], 3) == []


def test_the_draw_is_a_function_of_seed_and_tickets_only() -> None:
    seed = seeds(1, "determinism")[0]
    holders = [f"h{i}" for i in range(37)]
    assert domain.draw(seed, holders, 4, [2]) == domain.draw(seed, holders, 4, [2])
    assert domain.draw(seed, holders, 4) != domain.draw(seeds(2, "determinism")[1], holders, 4)
    # A continued stream equals a fresh run with the redraw appended.
    stream = domain.DrawStream(seed, holders)
    initial = [stream.next_pick(u) for u in (1, 2, 3, 4)]
    resumed = domain.DrawStream(
        seed, holders, counter=stream.counter, excluded={p.holder for p in initial if p}
    ).next_pick(2)
    assert domain.draw(seed, holders, 4, [2])[-1] == resumed


def _proof(seed: str, holders: list[str]) -> dict[str, object]:
    picks = domain.draw(seed, holders, 2)
    return {
        "procedure": domain.PROCEDURE,
        "seed": seed,
        "commitment": domain.commitment(seed),
        "tickets": holders,
        "tickets_digest": domain.tickets_digest(holders),
        "units": [{"unit": 1}, {"unit": 2}],
        "redraws": [],
        "winners": [
            {
                "unit": p.unit,
                "ticket_number": p.ticket_number,
                "holder": p.holder,
                "counter": p.counter,
            }
            for p in picks
        ],
    }


def test_verify_accepts_the_truth_and_rejects_every_kind_of_tampering() -> None:
    seed = seeds(1, "verify")[0]
    holders = [f"h{i % 7}" for i in range(40)]
    proof = _proof(seed, holders)
    assert verify_proof(proof).ok
    swapped = list(holders)
    swapped[0], swapped[-1] = swapped[-1], swapped[0]
    assert not verify_proof({**proof, "tickets": swapped}).ok
    assert not verify_proof({**proof, "seed": seeds(2, "verify")[1]}).ok
    winners = list(proof["winners"])  # type: ignore[call-overload]
    winners[0] = {**winners[0], "ticket_number": winners[0]["ticket_number"] % 40 + 1}
    assert not verify_proof({**proof, "winners": winners}).ok
    # A re-computed digest does not help: the winners no longer follow.
    forged = _proof(seed, holders)
    forged["tickets"] = swapped
    forged["tickets_digest"] = domain.tickets_digest(swapped)
    verdict = verify_proof(forged)
    assert verdict.ok is (domain.draw(seed, swapped, 2) == domain.draw(seed, holders, 2))


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("draft", "scheduled", True),
        ("scheduled", "open", True),
        ("open", "closed", True),
        ("closed", "completed", True),
        ("open", "cancelled", True),
        ("closed", "cancelled", True),
        ("completed", "cancelled", False),
        ("cancelled", "open", False),
        ("draft", "open", False),
        ("open", "completed", False),
        ("closed", "open", False),
    ],
)
def test_drawing_state_machine(current: str, target: str, allowed: bool) -> None:
    assert domain.can_move(current, target) is allowed


def test_eligibility_reasons() -> None:
    today = date(2030, 3, 1)
    assert domain.eligibility_refusal(18, None, None, None, today) == "BIRTHDATE_REQUIRED"
    assert domain.eligibility_refusal(18, None, date(2012, 3, 2), None, today) == "UNDER_MIN_AGE"
    assert domain.eligibility_refusal(18, None, date(2012, 3, 1), None, today) is None
    assert domain.eligibility_refusal(None, ["FR"], None, None, today) == "REGION_REQUIRED"
    assert domain.eligibility_refusal(None, ["FR"], None, "DE", today) == "REGION_NOT_ALLOWED"
    assert domain.eligibility_refusal(None, ["US"], None, "US-CA", today) is None
    assert domain.eligibility_refusal(None, ["US-CA"], None, "US-NY", today) == "REGION_NOT_ALLOWED"
    assert domain.age_on(date(2012, 2, 29), date(2030, 2, 28)) == 17
    assert domain.age_on(date(2012, 2, 29), date(2030, 3, 1)) == 18


def test_odds_and_points() -> None:
    assert domain.odds(0, 1000).one_in is None
    assert domain.odds(10, 1010).one_in == 101.0
    assert domain.whole_points(12.5) == 13 and domain.whole_points(12.4) == 12
    assert domain.whole_points(0.2) == 0

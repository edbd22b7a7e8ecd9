"""`podium-rewards verify proof.json`: recompute a drawing's winners from its published proof.

Needs nothing but the proof (as `GET /v1/drawings/{id}/proof` returns it) and
this module: no database, no network. It checks that the revealed seed matches
the commitment published at close, that the ticket list matches its digest,
and that the procedure of docs/rewards-fairness.md picks exactly the published
winners.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium_rewards import domain


@dataclass
class Verdict:
    """The outcome of a verification: ok, or the reasons it failed."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems


def verify_proof(proof: dict[str, Any]) -> Verdict:
    """Check a proof document; return what does not hold."""
    verdict = Verdict()
    if proof.get("procedure") != domain.PROCEDURE:
        verdict.problems.append(f"unknown procedure {proof.get('procedure')!r}")
        return verdict
    seed, commitment = proof.get("seed"), proof.get("commitment")
    tickets = proof.get("tickets")
    if not seed or not commitment or tickets is None:
        verdict.problems.append("the proof has no seed, commitment or ticket list (not completed?)")
        return verdict
    if domain.commitment(seed) != commitment:
        verdict.problems.append("the seed does not match the commitment published at close")
    if domain.tickets_digest(tickets) != proof.get("tickets_digest"):
        verdict.problems.append("the ticket list does not match the digest published at close")
    picks = domain.draw(seed, tickets, len(proof.get("units", [])), proof.get("redraws", []))
    expected = [(p.unit, p.ticket_number, p.holder, p.counter) for p in picks]
    published = [
        (w["unit"], w["ticket_number"], w["holder"], w["counter"])
        for w in sorted(proof.get("winners", []), key=lambda w: w["counter"])
    ]
    if expected != published:
        verdict.problems.append(
            f"the winners do not follow from the seed and tickets: expected {expected}, "
            f"published {published}"
        )
    return verdict


def verify_command(settings: Any, args: list[str]) -> int:
    """Console entry: verify each proof file given; exit status 0 only if all hold."""
    if not args:
        print("usage: podium-rewards verify PROOF.json [...]", file=sys.stderr)
        return 2
    status = 0
    for name in args:
        verdict = verify_proof(json.loads(Path(name).read_text()))
        if verdict.ok:
            print(f"{name}: OK - the winners follow from the committed seed and ticket list")
        else:
            status = 1
            for problem in verdict.problems:
                print(f"{name}: FAILED - {problem}")
    return status

"""Count what each replayed attack achieved: attempts, attacker successes and 500 answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx


@dataclass
class Attack:
    """One replayed attack: how often it was tried, how often it worked, how often it broke us."""

    name: str
    attempts: int = 0
    successes: int = 0
    server_errors: int = 0
    notes: list[str] = field(default_factory=list)

    def count(
        self,
        response: httpx.Response,
        succeeded: bool | Callable[[httpx.Response], bool],
        *,
        provoked_500: bool = False,
    ) -> None:
        """Record one answer; `succeeded` says (or decides) whether the attacker got their way.

        `provoked_500`: the test broke a dependency on purpose, so a 500 is not counted.
        """
        self.attempts += 1
        won = succeeded(response) if callable(succeeded) else succeeded
        if won:
            self.successes += 1
            self.notes.append(f"{response.request.method} {response.request.url.path}: won")
        if response.status_code >= 500 and not provoked_500:
            self.server_errors += 1
            self.notes.append(f"{response.request.method} {response.request.url.path}: 500")

    def assert_failed(self) -> None:
        """Fail the test unless the attacker won nothing and nothing answered 500."""
        assert self.attempts > 0, f"{self.name}: nothing was tried"
        assert (self.successes, self.server_errors) == (0, 0), f"{self.name}: {self.notes[:10]}"


@dataclass
class Tally:
    """Every attack of a module, printed as one table at its end."""

    attacks: list[Attack] = field(default_factory=list)

    def attack(self, name: str) -> Attack:
        """Start counting a new attack."""
        self.attacks.append(Attack(name))
        return self.attacks[-1]

    def table(self) -> str:
        """Return the summary table."""
        rows: Iterable[Attack] = self.attacks
        width = max([len(a.name) for a in rows] + [6])
        lines = [f"{'attack':<{width}}  tried  attacker won  500s"]
        lines += [
            f"{a.name:<{width}}  {a.attempts:>5}  {a.successes:>12}  {a.server_errors:>4}"
            for a in self.attacks
        ]
        total = (
            sum(a.attempts for a in self.attacks),
            sum(a.successes for a in self.attacks),
            sum(a.server_errors for a in self.attacks),
        )
        lines.append(f"{'total':<{width}}  {total[0]:>5}  {total[1]:>12}  {total[2]:>4}")
        return "\n".join(lines)

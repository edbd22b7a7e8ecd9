"""Steady load through the real stack and the checks that every answered request took effect once.

Submissions go gateway -> Kafka -> scoring -> Kafka -> competitions (leaderboard);
statements go gateway -> Kafka -> ingest. A `Ledger` records what was sent and
what was answered 2xx; `verify_effects` then awaits the outcomes and counts
what was lost (answered but no effect) and duplicated (an effect applied twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from platform_support.stack import User
from podium_runtime.testing import eventually
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from submissions_support.stack import PredictionStack, answer_key, predictions_csv
from xapi_support.stack import LrsStack, statement

OUTBOX_SCHEMAS = ("identity", "competitions", "scoring", "ingest")


@dataclass
class Ledger:
    """What the load generators sent and which requests were answered 2xx."""

    submissions_sent: int = 0
    #: submission id -> (player id, expected outcome)
    submissions: dict[str, tuple[str, str]] = field(default_factory=dict)
    statements_sent: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    #: Requests sent and not answered yet.
    in_flight: int = 0

    @property
    def acknowledged(self) -> int:
        """Return how many requests were answered 2xx."""
        return len(self.submissions) + len(self.statements)


@dataclass
class Arena:
    """A running prediction competition with players and the files they upload."""

    competition_id: str
    owner: User
    players: list[User]
    files: dict[str, bytes]


async def arena(stack: PredictionStack, players: int) -> Arena:
    """Create a competition with an answer key and `players` joined players."""
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner, daily_submission_limit=1000)
    key, ids, targets = answer_key(seed=12)
    await stack.upload_key(competition["id"], owner, key)
    joined = await stack.sign_up_many(players)
    for player in joined:
        await stack.join(competition["id"], player, timeout=30)
    rng = np.random.default_rng(12)
    files = {
        "scored": predictions_csv(ids, targets * 0.3 + rng.random(len(ids))),
        "rejected": predictions_csv(ids[5:], rng.random(len(ids) - 5)),  # missing ids
    }
    return Arena(competition["id"], owner, joined, files)


async def submit_steadily(
    stack: PredictionStack, game: Arena, player: User, ledger: Ledger, stop: asyncio.Event
) -> None:
    """Upload prediction files back to back (every fifth one invalid) until told to stop."""
    number = 0
    while not stop.is_set():
        number += 1
        expected = "rejected" if number % 5 == 0 else "scored"
        ledger.submissions_sent += 1
        ledger.in_flight += 1
        try:
            made = await stack.submit(game.competition_id, player, game.files[expected])
        except httpx.HTTPError as error:
            ledger.failures[type(error).__name__] += 1
            continue
        finally:
            ledger.in_flight -= 1
        if made.status_code == 202:
            ledger.submissions[made.json()["id"]] = (player.user_id, expected)
        else:
            ledger.failures[f"submission {made.status_code}"] += 1


async def send_statements_steadily(lrs: LrsStack, ledger: Ledger, stop: asyncio.Event) -> None:
    """POST statements with ids of our own back to back until told to stop."""
    async with httpx.AsyncClient(
        base_url=lrs.gateways[0], headers=lrs.headers(), timeout=60
    ) as client:
        while not stop.is_set():
            statement_id = str(uuid.uuid4())
            ledger.statements_sent.append(statement_id)
            ledger.in_flight += 1
            try:
                answer = await client.post("/xapi/statements", json=statement(id=statement_id))
            except httpx.HTTPError as error:
                ledger.failures[type(error).__name__] += 1
                continue
            finally:
                ledger.in_flight -= 1
            if answer.status_code == 200:
                ledger.statements.append(statement_id)
            else:
                ledger.failures[f"statement {answer.status_code}"] += 1


def start_load(
    stack: PredictionStack,
    lrs: LrsStack,
    game: Arena,
    ledger: Ledger,
    stop: asyncio.Event,
    statement_senders: int = 2,
) -> list[asyncio.Task[None]]:
    """Start one submitter per player and `statement_senders` statement senders."""
    return [
        asyncio.create_task(submit_steadily(stack, game, p, ledger, stop)) for p in game.players
    ] + [
        asyncio.create_task(send_statements_steadily(lrs, ledger, stop))
        for _ in range(statement_senders)
    ]


async def answered(ledger: Ledger, count: int, message: str, timeout: float = 120) -> None:
    """Await `count` requests answered 2xx in total."""

    async def enough() -> bool:
        return ledger.acknowledged >= count

    await eventually(enough, timeout=timeout, message=message)


async def _scalar_rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(text(sql), params))
    finally:
        await engine.dispose()


async def unsent_outbox_rows(database_url: str) -> int:
    """Count the rows (an event or a run of them each) still unsent in every service's outbox."""
    total = 0
    for schema in OUTBOX_SCHEMAS:
        rows = await _scalar_rows(
            database_url,
            f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL",  # noqa: S608
        )
        total += rows[0][0]
    return int(total)


async def stored_statement_counts(database_url: str, ids: list[str]) -> Counter[str]:
    """Return how many stored statements carry each of `ids`."""
    rows = await _scalar_rows(
        database_url,
        "SELECT id::text FROM ingest.statements WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=ids,
    )
    return Counter(row[0] for row in rows)


@dataclass
class Effects:
    """Counts of the end-to-end check: what was sent, answered, lost and duplicated."""

    submissions_sent: int
    submissions_acknowledged: int
    #: Submissions scoring holds: the acknowledged ones plus any whose answer never came.
    submissions_held: int
    scored: int
    rejected: int
    submissions_lost: int
    submissions_duplicated: int
    wrong_outcomes: dict[str, tuple[str, str]]
    statements_sent: int
    statements_acknowledged: int
    statements_stored: int
    statements_lost: int
    statements_duplicated: int
    failures: dict[str, int]

    def report(self) -> str:
        """Return the counts as the lines the tests print."""
        return (
            f"submissions: sent {self.submissions_sent}, acknowledged"
            f" {self.submissions_acknowledged}, held by scoring {self.submissions_held},"
            f" scored {self.scored}, rejected {self.rejected},"
            f" lost {self.submissions_lost}, duplicated {self.submissions_duplicated}\n"
            f"statements: sent {self.statements_sent}, acknowledged"
            f" {self.statements_acknowledged}, stored {self.statements_stored},"
            f" lost {self.statements_lost}, duplicated {self.statements_duplicated}\n"
            f"requests not answered 2xx: {self.failures}"
        )

    def assert_exactly_once(self) -> None:
        """Fail unless every acknowledged request had exactly one effect."""
        assert not self.wrong_outcomes, f"wrong outcomes: {self.wrong_outcomes}"
        assert (self.submissions_lost, self.submissions_duplicated) == (0, 0), self.report()
        assert (self.statements_lost, self.statements_duplicated) == (0, 0), self.report()
        assert self.submissions_acknowledged > 0 and self.statements_acknowledged > 0


async def _all_submissions(stack: PredictionStack, game: Arena, player: User) -> dict[str, str]:
    """Return every submission scoring holds for `player` (id -> status), once none is queued."""

    async def settled() -> dict[str, str] | None:
        got = await stack.http.get(
            f"/v1/competitions/{game.competition_id}/submissions",
            params={"limit": 200},
            headers=player.auth,
        )
        assert got.status_code == 200, got.text
        items = {item["id"]: item["status"] for item in got.json()["items"]}
        return None if "queued" in items.values() else items

    return await eventually(settled, timeout=120, interval=0.2, message="submissions judged")


async def verify_effects(
    stack: PredictionStack, game: Arena, ledger: Ledger, database_url: str
) -> Effects:
    """Await every acknowledged request's effect and count the lost and duplicated ones.

    A request that timed out at the client may still have taken effect; those are
    told apart from duplicates by listing every submission scoring holds: the
    leaderboard must count each scored one exactly once, and every acknowledged
    one must be among them with the expected outcome.
    """
    held: dict[str, str] = {}
    scored: Counter[str] = Counter()
    for player in game.players:
        mine = await _all_submissions(stack, game, player)
        held.update(mine)
        scored[player.user_id] = sum(1 for status in mine.values() if status == "scored")
    missing = [s for s in ledger.submissions if s not in held]
    wrong = {
        s: (held[s], expected)
        for s, (_, expected) in ledger.submissions.items()
        if s in held and held[s] != expected
    }

    async def on_board() -> dict[str, int]:
        got = await stack.board(game.competition_id, game.owner, limit=100)
        return {e["user_id"]: e["submissions"] for e in got.json().get("entries", [])}

    expected_board = {p: n for p, n in scored.items() if n}

    async def board_settled() -> bool:
        return await on_board() == expected_board

    with contextlib.suppress(AssertionError):  # the counts below tell what differs
        await eventually(board_settled, timeout=60, message="leaderboard counts")
    board = await on_board()

    async def all_stored() -> bool:
        counts = await stored_statement_counts(database_url, ledger.statements)
        return set(counts) == set(ledger.statements)

    with contextlib.suppress(AssertionError):
        await eventually(all_stored, timeout=60, message="statements stored")
    stored = await stored_statement_counts(database_url, ledger.statements)

    async def drained() -> bool:
        return await unsent_outbox_rows(database_url) == 0

    await eventually(drained, timeout=60, message="every outbox drained")
    return Effects(
        submissions_sent=ledger.submissions_sent,
        submissions_acknowledged=len(ledger.submissions),
        submissions_held=len(held),
        scored=sum(scored.values()),
        rejected=sum(1 for status in held.values() if status == "rejected"),
        submissions_lost=len(missing) + sum(max(0, n - board.get(p, 0)) for p, n in scored.items()),
        submissions_duplicated=sum(max(0, board.get(p, 0) - n) for p, n in scored.items())
        + sum(n for p, n in board.items() if p not in scored),
        wrong_outcomes=wrong,
        statements_sent=len(ledger.statements_sent),
        statements_acknowledged=len(ledger.statements),
        statements_stored=len(stored),
        statements_lost=len(set(ledger.statements) - set(stored)),
        statements_duplicated=sum(n - 1 for n in stored.values() if n > 1),
        failures=dict(ledger.failures),
    )

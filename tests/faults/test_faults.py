"""Fault injection under steady traffic: no acknowledged submission is lost, doubled or stuck.

Participants keep uploading prediction files through the gateway while, one
after the other, a consumer service is killed with SIGKILL, Postgres stops and
freezes, Redis freezes and loses its data, every topic receives a poison
envelope, and a participant uploads a file whose error list has no end. For
each fault the suite counts the submissions sent, acknowledged (202), lost
(acknowledged, then unknown or rejected although valid), duplicated (counted
more than once on the board) and stuck (still queued once everything
recovered), and prints the table. Lost, duplicated and stuck must be 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaProducer
from podium_contracts.topics import ALL_TOPICS
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from fault_stack import FaultStack, fault_stack
from platform_support.stack import User
from submissions_support.stack import PredictionStack, answer_key, predictions_csv

# Several outages of up to 30 s each, with time to recover: longer than the default timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

#: Seconds Postgres stays stopped or frozen (Redis: two thirds of it).
OUTAGE = float(os.environ.get("PODIUM_FAULT_SECONDS", "30"))


@dataclass
class Tally:
    """What one fault window saw."""

    fault: str
    sent: int = 0
    acknowledged: list[tuple[str, User]] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0


@dataclass
class Traffic:
    """Uploads a valid file every `interval` seconds, round robin over the players."""

    stack: PredictionStack
    competition_id: str
    players: list[User]
    good: bytes
    interval: float = 0.25
    current: Tally | None = None

    async def run(self) -> None:
        turn = 0
        while True:
            player = self.players[turn % len(self.players)]
            turn += 1
            tally = self.current
            if tally is not None:
                tally.sent += 1
                try:
                    answer = await self.stack.submit(self.competition_id, player, self.good)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 202:
                    tally.acknowledged.append((answer.json()["id"], player))
            await asyncio.sleep(self.interval)


async def _judge(stack: PredictionStack, tally: Tally, expect: str = "scored") -> None:
    """Await every acknowledged submission of the window; count the lost and the stuck."""
    pending = dict(tally.acknowledged)

    async def settled() -> bool:
        for submission_id, player in list(pending.items()):
            got = await stack.http.get(f"/v1/submissions/{submission_id}", headers=player.auth)
            if got.status_code == 404:
                continue  # not known yet; judged below once time is up
            if got.status_code == 200 and got.json()["status"] != "queued":
                if got.json()["status"] != expect:
                    tally.lost += 1
                del pending[submission_id]
        return not pending

    try:
        await eventually(settled, timeout=180, interval=1.0, message="submissions settled")
    except AssertionError:
        for submission_id, player in pending.items():
            got = await stack.http.get(f"/v1/submissions/{submission_id}", headers=player.auth)
            if got.status_code == 404:
                tally.lost += 1
            else:
                tally.stuck += 1


async def _poison_every_topic(faults: FaultStack) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=faults.bootstrap_servers)
    await producer.start()
    try:
        for topic in ALL_TOPICS:
            poison = json.dumps({"type": {"poison": True}, "version": 1, "id": str(uuid.uuid4())})
            await producer.send_and_wait(
                faults.topic_prefix + topic.name, poison.encode(), key=b"poison"
            )
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def faults(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    async with fault_stack(test_infra, tmp_path_factory.mktemp("faults")) as stack:
        yield stack


async def test_no_acknowledged_submission_is_lost_duplicated_or_stuck(faults: FaultStack) -> None:
    async with httpx.AsyncClient(base_url=faults.gateway, timeout=30) as http:
        stack = PredictionStack(faults.gateway, http, faults.topic_prefix, faults.bootstrap_servers)
        owner = await stack.sign_up("Sponsor")
        players = [await stack.sign_up(f"Player {n}") for n in range(3)]
        competition = await stack.prediction_competition(owner, daily_submission_limit=1000)
        csv, ids, targets = answer_key(seed=9, rows=200)
        await stack.upload_key(competition["id"], owner, csv)
        for player in players:
            assert (await stack.join(competition["id"], player, timeout=60))["status"] == "accepted"
        rng = np.random.default_rng(3)
        good = predictions_csv(ids, np.clip(targets * 0.6 + rng.random(len(ids)) * 0.4, 0, 1))
        traffic = Traffic(stack, competition["id"], players, good)
        runner = asyncio.create_task(traffic.run())
        tallies: list[Tally] = []

        async def window(name: str, fault: Callable[[], Awaitable[None]]) -> Tally:
            tally = Tally(name)
            tallies.append(tally)
            traffic.current = tally
            await fault()
            await asyncio.sleep(2)  # traffic after the recovery belongs to the window too
            traffic.current = None
            await _judge(stack, tally)
            return tally

        async def kill(service: str) -> None:
            faults.kill(service)
            await faults.ready(service)

        async def outage(link: Any, how: str, seconds: float) -> None:
            getattr(link, how)()
            await asyncio.sleep(seconds)
            link.restore()
            for service in ("identity", "competitions", "scoring", "gateway"):
                await faults.ready(service)

        async def flush_redis() -> None:
            client = redis.from_url(faults.redis_url)
            try:
                await client.flushdb()
            finally:
                await client.aclose()

        async def poison() -> None:
            await _poison_every_topic(faults)

        try:
            await window("steady traffic", lambda: asyncio.sleep(3))
            for service in ("scoring", "competitions", "gateway", "identity"):
                await window(f"kill -9 {service}", lambda s=service: kill(s))
            await window(
                f"Postgres stopped {OUTAGE:.0f}s", lambda: outage(faults.database, "cut", OUTAGE)
            )
            await window(
                f"Postgres frozen {OUTAGE:.0f}s",
                lambda: outage(faults.database, "freeze", OUTAGE),
            )
            await window(
                f"Redis frozen {OUTAGE * 2 / 3:.0f}s",
                lambda: outage(faults.redis, "freeze", OUTAGE * 2 / 3),
            )
            await window("Redis flushed", flush_redis)
            await window("poison envelope on every topic", poison)
        finally:
            runner.cancel()
            traffic.current = None

        # An upload whose error list has no end: rejected, and nothing waits behind it.
        header = ",".join(["id", "target", *(f"extra_{n}" for n in range(6600))])
        huge = Tally("oversized upload error list")
        tallies.append(huge)
        huge.sent = 1
        answer = await stack.submit(competition["id"], players[0], f"{header}\n".encode())
        if answer.status_code == 202:
            huge.acknowledged.append((answer.json()["id"], players[0]))
        await _judge(stack, huge, expect="rejected")
        after = Tally("submission after the oversized one")
        tallies.append(after)
        after.sent = 1
        answer = await stack.submit(competition["id"], players[1], good)
        if answer.status_code == 202:
            after.acknowledged.append((answer.json()["id"], players[1]))
        await _judge(stack, after)

        # Duplicates: the board counts each participant's scored submissions once.
        scored = {p.user_id: 0 for p in players}
        for tally in tallies:
            for _, player in tally.acknowledged:
                scored[player.user_id] += 1
        scored[players[0].user_id] -= len(huge.acknowledged)

        async def board_counts() -> dict[str, int] | None:
            got = await stack.board(competition["id"], limit=50)
            entries = {e["user_id"]: e["submissions"] for e in got.json()["entries"]}
            return entries if entries == scored else None

        with_board: dict[str, int] = {}
        try:
            with_board = await eventually(board_counts, timeout=60, message="board caught up")
        except AssertionError:
            got = await stack.board(competition["id"], limit=50)
            with_board = {e["user_id"]: e["submissions"] for e in got.json()["entries"]}
        extra = sum(max(with_board.get(u, 0) - n, 0) for u, n in scored.items())
        tallies[-1].duplicated = extra

    _print_table(tallies)
    assert all(t.lost == 0 and t.duplicated == 0 and t.stuck == 0 for t in tallies), tallies
    assert all(t.acknowledged for t in tallies)


def _print_table(tallies: list[Tally]) -> None:
    width = max(len(t.fault) for t in tallies)
    lines = [
        f"{'fault':<{width}}  sent  acknowledged  lost  duplicated  stuck",
        *(
            f"{t.fault:<{width}}  {t.sent:>4}  {len(t.acknowledged):>12}  {t.lost:>4}  "
            f"{t.duplicated:>10}  {t.stuck:>5}"
            for t in tallies
        ),
    ]
    print("\n" + "\n".join(lines), flush=True)

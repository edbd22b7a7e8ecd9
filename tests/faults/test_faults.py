"""Fault injection under steady traffic: no acknowledged work is lost, doubled or stuck.

Participants keep uploading prediction files, users keep asking to join
competitions and a learning tool keeps posting xAPI statements through the
gateway while, one after the other, each consumer service (and identity and
the gateway) is killed with SIGKILL, Postgres stops and freezes, Redis freezes
and loses its data, every topic receives a poison envelope, and a participant
uploads a file whose error list has no end. For each fault and each kind of
traffic the suite counts what was sent, acknowledged, lost, duplicated and
stuck (see `traffic.py` for what each means per kind) and prints the table.
Lost, duplicated and stuck must be 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
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

from fault_stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CONSUMERS,
    PLATFORM,
    SERVICES,
    FaultStack,
    fault_stack,
)
from platform_support.stack import User, lrs_client, trust_lrs_clients
from submissions_support.stack import PredictionStack, answer_key, predictions_csv
from traffic import (
    COMPLETED,
    LESSONS,
    POINTS,
    XAPI_VERSION,
    Tally,
    Traffic,
    account,
    dead_lettered,
    decision_events,
    judge_join_duplicates,
    judge_joins,
    judge_statement_duplicates_and_points,
    judge_statements,
    judge_submissions,
    table,
)

# Several outages of up to 30 s each, with time to recover: longer than the default timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

#: Seconds Postgres stays stopped or frozen (Redis: two thirds of it).
OUTAGE = float(os.environ.get("PODIUM_FAULT_SECONDS", "30"))
#: Fault windows under traffic: steady, seven kills, two Postgres and two Redis faults, poison.
WINDOWS = 13
#: Users and competitions whose pairs feed the join traffic (one join request per pair).
JOINERS, ROOMS = 20, 20

POISON_KEY = b"poison"
#: Records no consumer can apply: each must be dead-lettered, none may block what follows.
POISONS = (
    json.dumps({"type": {"poison": True}, "version": 1, "id": "x"}).encode(),
    json.dumps({"type": "submission.received", "version": "1", "data": []}).encode(),
    json.dumps(["not", "an", "envelope"]).encode(),
    b"\xff\xfe not json",
)


async def _poison_every_topic(faults: FaultStack) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=faults.bootstrap_servers)
    await producer.start()
    try:
        for topic in ALL_TOPICS:
            for poison in POISONS:
                await producer.send_and_wait(
                    faults.topic_prefix + topic.name, poison, key=POISON_KEY
                )
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def faults(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    async with fault_stack(test_infra, tmp_path_factory.mktemp("faults")) as stack:
        yield stack


async def _activity_competition(stack: PredictionStack, owner: User) -> dict[str, Any]:
    """An active activity competition: 10 points per completed lesson, no daily cap."""
    now = datetime.now(UTC)
    return await stack.create(
        owner,
        kind="activity",
        metric=None,
        status="active",
        late_join=True,
        starts_at=(now - timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=20)).isoformat(),
        rules={"points": [{"verb": COMPLETED, "activity_prefix": LESSONS, "points": POINTS}]},
    )


async def _accepted(stack: PredictionStack, competition_id: str, users: list[User]) -> None:
    for user in users:
        assert (await stack.join(competition_id, user, timeout=60))["status"] == "accepted"


async def test_no_acknowledged_work_is_lost_duplicated_or_stuck(faults: FaultStack) -> None:
    async with httpx.AsyncClient(base_url=faults.gateway, timeout=30) as http:
        stack = PredictionStack(faults.gateway, http, faults.topic_prefix, faults.bootstrap_servers)
        owner = await stack.sign_up("Sponsor")
        players = [await stack.sign_up(f"Player {n}") for n in range(3)]
        competition = await stack.prediction_competition(owner, daily_submission_limit=1000)
        csv, ids, targets = answer_key(seed=9, rows=200)
        await stack.upload_key(competition["id"], owner, csv)
        await _accepted(stack, competition["id"], players)
        rng = np.random.default_rng(3)
        good = predictions_csv(ids, np.clip(targets * 0.6 + rng.random(len(ids)) * 0.4, 0, 1))

        # Joins: fresh (competition, user) pairs, one per request.
        joiners = await stack.sign_up_many(JOINERS)
        rooms = [(await stack.prediction_competition(owner))["id"] for _ in range(ROOMS)]
        pairs = [(room, user) for room in rooms for user in joiners]
        # Statements: one learner per window, each a participant of the activity competition.
        activity = await _activity_competition(stack, owner)
        learners = await stack.sign_up_many(WINDOWS + 1)
        await _accepted(stack, activity["id"], learners)
        admin_token = await stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        tool = await lrs_client(
            http, admin_token, "fault-suite tool", ["statements/write", "statements/read"]
        )
        # Only statements of LRS clients the sponsor trusts earn points (ADR 0054).
        await trust_lrs_clients(http, owner.auth, activity["id"], tool.client_id)
        lrs_auth = tool.auth
        # The lesson player's statements reach the board before traffic is counted.
        await _warm_statements(stack, activity["id"], learners[-1], lrs_auth)

        traffic = Traffic(stack, competition["id"], players, good, pairs, lrs_auth, PLATFORM)
        runners = traffic.start()
        tallies: list[Tally] = []
        spare = iter(learners)

        async def window(name: str, fault: Callable[[], Awaitable[None]]) -> Tally:
            tally = Tally(name, learner=next(spare))
            tallies.append(tally)
            traffic.current = tally
            await fault()
            await asyncio.sleep(4)  # traffic after the recovery belongs to the window too
            traffic.current = None
            await judge_submissions(stack, tally.kinds["submissions"])
            await judge_joins(stack, tally.kinds["joins"])
            await judge_statements(stack, tally.kinds["statements"], lrs_auth)
            print("\n" + table([tally]), flush=True)  # progress; the full table comes last
            return tally

        async def kill(service: str) -> None:
            faults.kill(service)
            await faults.ready(service)

        async def outage(link: Any, how: str, seconds: float) -> None:
            getattr(link, how)()
            await asyncio.sleep(seconds)
            link.restore()
            for service in SERVICES:
                await faults.ready(service)

        async def flush_redis() -> None:
            client = redis.from_url(faults.redis_url)
            try:
                await client.flushdb()
            finally:
                await client.aclose()

        async def poison() -> None:
            await _poison_every_topic(faults)

        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "steady traffic": lambda: asyncio.sleep(3),
            **{f"kill -9 {s}": (lambda s=s: kill(s)) for s in (*CONSUMERS, "gateway", "identity")},
            f"Postgres stopped {OUTAGE:.0f}s": lambda: outage(faults.database, "cut", OUTAGE),
            f"Postgres frozen {OUTAGE:.0f}s": lambda: outage(faults.database, "freeze", OUTAGE),
            f"Redis frozen {OUTAGE * 2 / 3:.0f}s": lambda: outage(
                faults.redis, "freeze", OUTAGE * 2 / 3
            ),
            "Redis flushed": flush_redis,
            "poison envelope on every topic": poison,
        }
        assert len(actions) == WINDOWS
        try:
            for name, action in actions.items():
                await window(name, action)
        finally:
            for runner in runners:
                runner.cancel()
            traffic.current = None

        # An upload whose error list has no end: rejected, and nothing waits behind it.
        header = ",".join(["id", "target", *(f"extra_{n}" for n in range(6600))])
        huge = Tally("oversized upload error list")
        tallies.append(huge)
        huge_count = huge.kinds["submissions"]
        huge_count.sent = 1
        answer = await stack.submit(competition["id"], players[0], f"{header}\n".encode())
        if answer.status_code == 202:
            huge_count.acknowledged.append((answer.json()["id"], players[0]))
        await judge_submissions(stack, huge_count, expect="rejected")
        after = Tally("submission after the oversized one")
        tallies.append(after)
        after_count = after.kinds["submissions"]
        after_count.sent = 1
        answer = await stack.submit(competition["id"], players[1], good)
        if answer.status_code == 202:
            after_count.acknowledged.append((answer.json()["id"], players[1]))
        await judge_submissions(stack, after_count)

        # Duplicates: the board counts each participant's scored submissions once.
        scored = {p.user_id: 0 for p in players}
        for tally in tallies:
            for _, player in tally.kinds["submissions"].acknowledged:
                scored[player.user_id] += 1
        scored[players[0].user_id] -= len(huge_count.acknowledged)

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
        after_count.duplicated = extra

        # Joins: each acknowledged request decided by exactly one event.
        judge_join_duplicates(
            tallies, await decision_events(faults.bootstrap_servers, faults.topic_prefix)
        )
        # Statements: listed once, and earning their points once.
        await judge_statement_duplicates_and_points(
            stack, tallies, activity["id"], lrs_auth, PLATFORM
        )

        # Every poison envelope was dead-lettered by each consumer that read it: none was
        # skipped, none blocks its partition (the traffic behind it went through above).
        poisons = await dead_lettered(
            faults.bootstrap_servers, faults.topic_prefix, list(ALL_TOPICS), POISON_KEY
        )

    print("\n" + table(tallies), flush=True)
    print("poison envelopes dead-lettered, per topic and consumer:", flush=True)
    for topic_name, consumers in poisons.items():
        print(f"  {topic_name}: {dict(consumers)}", flush=True)
    assert all(t.clean() for t in tallies), table(tallies)
    for topic_name, consumers in poisons.items():
        assert consumers, f"no consumer dead-lettered the poison on {topic_name}"
        assert all(n == len(POISONS) for n in consumers.values()), (topic_name, consumers)
    # Every kind of traffic got through in every window (a window that acknowledged
    # nothing would prove nothing).
    for tally in tallies[:WINDOWS]:
        for kind, count in tally.kinds.items():
            if kind != "joins" or pairs:
                assert count.acknowledged, (tally.fault, kind)


async def _warm_statements(
    stack: PredictionStack, activity_id: str, learner: User, lrs_auth: dict[str, str]
) -> None:
    """Post one statement and await its points: ingest and competitions consume statements."""
    statement = {
        "actor": account(learner, PLATFORM),
        "verb": {"id": COMPLETED},
        "object": {"objectType": "Activity", "id": LESSONS + "warm-up"},
    }
    sent = await stack.http.post(
        "/xapi/statements", json=statement, headers={**lrs_auth, **XAPI_VERSION}
    )
    assert sent.status_code == 200, sent.text

    async def counted() -> bool:
        got = await stack.http.get(f"/v1/competitions/{activity_id}/leaderboard")
        return any(e["user_id"] == learner.user_id for e in got.json()["entries"])

    await eventually(counted, timeout=120, message="statements earn points")

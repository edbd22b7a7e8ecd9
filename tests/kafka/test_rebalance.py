"""Replicas join and leave consumer groups under load without losing or repeating work (issue 12).

While submissions and statements flow, a second replica of scoring and then of
ingest is started as its own process and joins the group (partitions are split
between the replicas); then the scoring replica is stopped with SIGTERM (it
leaves the group at once) and the ingest replica with SIGKILL (the group notices
only after the session timeout). Every answered request still has exactly one
effect, and no partition of either group waits with records unconsumed much
longer than the session timeout: detection takes the session timeout, the new
assignment one rebalance round.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kafka_support.broker import infrastructure_on, own_broker
from kafka_support.load import Ledger, answered, arena, start_load, verify_effects
from kafka_support.replicas import (
    ProgressWatch,
    Replica,
    group_members,
    start_replica,
    stop_replicas,
)
from podium_contracts import ALL_TOPICS
from podium_runtime.settings import ServiceSettings
from podium_runtime.testing import TestInfrastructure, eventually
from submissions_support.stack import PredictionStack, prediction_stack
from xapi_support.stack import LrsStack, lrs_stack

pytestmark = pytest.mark.slow

SESSION_TIMEOUT = ServiceSettings().consumer_session_timeout_ms / 1000
#: One rebalance round on a loaded machine: members rejoin within a heart-beat or two.
REBALANCE_ALLOWANCE = 6.0
STEP = 15  # requests answered between two steps


@pytest.fixture
async def stacks(
    test_infra: TestInfrastructure, tmp_path: Path
) -> AsyncIterator[tuple[TestInfrastructure, PredictionStack, LrsStack, Path]]:
    async with own_broker() as broker:
        infra = await infrastructure_on(test_infra, broker)
        await infra.migrate("identity", "competitions", "scoring", "ingest")
        async with (
            prediction_stack(infra, tmp_path / "predictions") as predictions,
            lrs_stack(infra, tmp_path / "lrs") as lrs,
        ):
            yield infra, predictions, lrs, tmp_path


async def test_replicas_joining_and_leaving_under_load_apply_every_event_once(
    stacks: tuple[TestInfrastructure, PredictionStack, LrsStack, Path],
) -> None:
    infra, stack, lrs, tmp = stacks
    bootstrap = infra.infra.kafka_bootstrap_servers
    game = await arena(stack, players=3)
    watch = ProgressWatch(
        bootstrap,
        {
            "scoring": watched(infra, "podium.submissions"),
            "ingest": watched(infra, "podium.xapi.statements"),
        },
    )
    ledger, stop = Ledger(), asyncio.Event()
    replicas: list[Replica] = []
    load = start_load(stack, lrs, game, ledger, stop)
    watch.start()
    try:
        await answered(ledger, STEP, "load before the second replicas")
        # Scoring reads the uploads from the stack's blob directory.
        blobs = {"PODIUM_BLOB_DIR": str(tmp / "predictions" / "blobs")}
        for service in ("scoring", "ingest"):
            replicas.append(await start_replica(service, infra, tmp / f"{service}-2.log", blobs))

            async def two_members(group: str = service) -> bool:
                return await group_members(bootstrap, group) == 2

            await eventually(two_members, timeout=60, message=f"{service} has two members")
            await answered(ledger, ledger.acknowledged + STEP, f"load with two {service}s")

        scoring_2, ingest_2 = replicas
        scoring_2.signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert await scoring_2.exited() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in (tmp / "scoring-2.log").read_text()
        ingest_2.signal(signal.SIGKILL)
        await ingest_2.exited()
        await answered(ledger, ledger.acknowledged + 2 * STEP, "load after the replicas left")

        async def one_member_each() -> bool:
            return (
                await group_members(bootstrap, "scoring") == 1
                and await group_members(bootstrap, "ingest") == 1
            )

        await eventually(one_member_each, timeout=60, message="the groups shrank to one member")
        stop.set()
        await asyncio.gather(*load, return_exceptions=True)
        effects = await verify_effects(stack, game, ledger, infra.database_url)
    finally:
        stop.set()
        await asyncio.gather(*load, return_exceptions=True)
        stop_replicas(replicas)
        await watch.stop()
    print(
        f"\n{effects.report()}\nlongest time a partition waited unconsumed: scoring"
        f" {watch.worst('scoring'):.1f} s (replica left with SIGTERM), ingest"
        f" {watch.worst('ingest'):.1f} s (replica killed), session timeout {SESSION_TIMEOUT:.0f} s"
    )
    effects.assert_exactly_once()
    assert watch.samples > 10
    # The killed replica's partitions waited for the session timeout to expire: the
    # watcher saw that, and no partition waited much longer.
    assert watch.worst("ingest") > 1.0
    for group in ("scoring", "ingest"):
        assert watch.worst(group) <= SESSION_TIMEOUT + REBALANCE_ALLOWANCE, group


def watched(infra: TestInfrastructure, topic: str) -> tuple[str, int]:
    """Return a registry topic's full name in this run and its partition count."""
    (declared,) = [t for t in ALL_TOPICS if t.name == topic]
    return infra.topic_prefix + topic, declared.partitions

"""Killing the broker under load loses nothing and applies nothing twice (issue 12).

Submissions (gateway -> scoring -> outbox -> Kafka -> scoring and competitions)
and xAPI statements (gateway -> Kafka -> ingest) flow steadily while the Apache
Kafka node is killed with SIGKILL and restarted on the same data directory and
ports. Afterwards every request that was answered 2xx has exactly one effect:
each accepted submission is scored or rejected once (the leaderboard counts each
scored one once), each accepted statement is stored once, and every outbox is
drained. The counts are printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka_support.broker import infrastructure_on, own_broker
from kafka_support.load import Ledger, answered, arena, start_load, verify_effects
from podium_runtime.kafka_embedded import EmbeddedKafka
from podium_runtime.testing import TestInfrastructure, eventually
from submissions_support.stack import PredictionStack, prediction_stack
from xapi_support.stack import LrsStack, lrs_stack

pytestmark = pytest.mark.slow

#: Requests answered before the kill and after the restart.
BEFORE, AFTER = 20, 20


@dataclass
class Crashable:
    """The stacks under test and the broker they share."""

    broker: EmbeddedKafka
    infra: TestInfrastructure
    predictions: PredictionStack
    lrs: LrsStack


@pytest.fixture
async def crashable(test_infra: TestInfrastructure, tmp_path: Path) -> AsyncIterator[Crashable]:
    async with own_broker() as broker:
        infra = await infrastructure_on(test_infra, broker)
        await infra.migrate("identity", "competitions", "scoring", "ingest")
        async with (
            prediction_stack(infra, tmp_path / "predictions") as predictions,
            lrs_stack(infra, tmp_path / "lrs") as lrs,
        ):
            yield Crashable(broker, infra, predictions, lrs)


async def test_killing_the_broker_under_load_loses_nothing_and_duplicates_nothing(
    crashable: Crashable,
) -> None:
    stack, lrs, broker = crashable.predictions, crashable.lrs, crashable.broker
    game = await arena(stack, players=3)
    ledger, stop = Ledger(), asyncio.Event()
    load = start_load(stack, lrs, game, ledger, stop)
    try:
        await answered(ledger, BEFORE, "load before the kill")
        before_kill = ledger.acknowledged
        port = broker.port
        broker.kill()
        killed_at = time.monotonic()

        # The gateway holds each request until its event is acknowledged: wait until every
        # load task has one waiting on the dead broker, then restart it (which takes seconds).
        async def all_waiting() -> bool:
            return ledger.in_flight == len(load)

        await eventually(all_waiting, timeout=30, message="every load task waits on the broker")
        await asyncio.to_thread(broker.start)
        assert broker.port == port, "the broker came back on other ports"
        outage = time.monotonic() - killed_at
        await answered(ledger, ledger.acknowledged + AFTER, "load after the restart")
    finally:
        if broker.process is None:  # a failed step must not leave the services without Kafka
            await asyncio.to_thread(broker.start)
        stop.set()
        await asyncio.gather(*load, return_exceptions=True)

    effects = await verify_effects(stack, game, ledger, crashable.infra.database_url)
    print(
        f"\nbroker killed (SIGKILL) after {before_kill} answered requests,"
        f" back on the same data and ports after {outage:.1f} s\n{effects.report()}"
    )
    effects.assert_exactly_once()

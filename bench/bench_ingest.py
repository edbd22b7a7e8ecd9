"""Ingest's CPU per xAPI statement, with polls of a fixed size and no HTTP in the way.

Feeds `xapi.statements.received` records straight to ingest's consumer
(`EventConsumer.dispatch_batch`, the path every Kafka poll takes: parse, inbox,
store and flatten, stored-ids index, outbox) in polls of a fixed number of
events, a fixed gap apart, with the outbox relay running as in the service but
handing its records to a stub that acknowledges at once (no broker: Kafka's
and the Kafka client's share is `bench_xapi.py`'s). Each event carries one
actor's statements, as the gateway publishes them.

Prints, for the timed polls, the CPU microseconds per statement of this process
(ingest's code), of the run's Postgres and of its Redis, and the SQL statements
and transactions ingest sent per poll. Unlike `bench_xapi.py`'s statements/s,
these barely move with the machine's load, and the poll size is fixed, so two
checkouts can be compared run against run.

Environment: BENCH_EVENTS_PER_POLL (3: the median poll of `bench_xapi.py` with
batches of 10), BENCH_STATEMENTS_PER_EVENT (10), BENCH_POLLS (600, after 60 to
warm up), BENCH_POLL_GAP_MS (10).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from aiokafka.structs import ConsumerRecord
from podium_contracts.events import StatementsData, StatementsReceived
from podium_contracts.topics import XAPI_STATEMENTS
from podium_ingest.app import create_runtime
from podium_ingest.config import Settings
from podium_ingest.statement_index import StatementIndex
from podium_runtime.gcpolicy import freeze_start_up_heap
from podium_runtime.outbox import event_headers, new_event
from podium_runtime.testing import TestInfrastructure
from sqlalchemy import event as sql_event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _support import cpu_seconds, process_groups  # noqa: E402
from xapi_support.stack import statement  # noqa: E402

EVENTS_PER_POLL = int(os.environ.get("BENCH_EVENTS_PER_POLL", "3"))
STATEMENTS_PER_EVENT = int(os.environ.get("BENCH_STATEMENTS_PER_EVENT", "10"))
POLLS = int(os.environ.get("BENCH_POLLS", "600"))
WARM_UP = 60
GAP = float(os.environ.get("BENCH_POLL_GAP_MS", "10")) / 1000
PLATFORM = "http://podium.test"


def _statement(actor: dict[str, Any]) -> dict[str, Any]:
    """A statement as the gateway publishes it: id, stored, authority and version set."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return statement(
        actor=actor,
        id=str(uuid.uuid4()),
        timestamp=now,
        stored=now,
        authority={"objectType": "Agent", "account": {"homePage": PLATFORM, "name": "tool"}},
        version="1.0.0",
    )


def _polls(topic: str, count: int) -> list[list[ConsumerRecord[bytes, bytes]]]:
    client = uuid.uuid4()
    polls, offset = [], 0
    for _ in range(count):
        records = []
        for _ in range(EVENTS_PER_POLL):
            actor = {"mbox": f"mailto:{uuid.uuid4().hex[:12]}@podium.test", "name": "L"}
            received = new_event(
                StatementsReceived,
                "gateway",
                StatementsData(
                    actor=f"mbox:{actor['mbox']}",
                    lrs_client_id=client,
                    statements=[_statement(actor) for _ in range(STATEMENTS_PER_EVENT)],
                ),
            )
            value = received.model_dump_json().encode()
            headers = [(k, v.encode()) for k, v in event_headers(received).items()]
            records.append(
                ConsumerRecord(
                    topic, 0, offset, 0, 0, None, value, None, 0, len(value), tuple(headers)
                )
            )
            offset += 1
        polls.append(records)
    return polls


async def main() -> None:
    """Start Postgres and Redis (and the broker the runtime expects), feed polls, report."""
    with tempfile.TemporaryDirectory() as workdir:
        infra = await TestInfrastructure.start(Path(workdir))
        try:
            await infra.migrate("ingest")
            settings = infra.settings(Settings, platform_url=PLATFORM)
            runtime = create_runtime(settings)
            assert runtime.consumer is not None and runtime.relay is not None
            index = StatementIndex(
                runtime.redis, settings.gateway_redis_key_prefix, settings.statement_index_bits
            )
            await index.build(runtime.db)
            published, awaited = 0, WARM_UP * EVENTS_PER_POLL
            reached = asyncio.Event()  # set once `awaited` events were published

            async def acknowledged(topic: str, key: str, value: bytes, headers: Any) -> Any:
                nonlocal published
                published += 1
                if published >= awaited:
                    reached.set()
                done = asyncio.get_running_loop().create_future()
                done.set_result(None)
                return done

            runtime.relay.publish = acknowledged
            counts = {"statements": 0, "transactions": 0}

            def counted(*_: Any) -> None:
                counts["statements"] += 1

            def began(*_: Any) -> None:
                counts["transactions"] += 1

            sql_event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", counted)
            sql_event.listen(runtime.db.engine.sync_engine, "begin", began)
            relay = asyncio.create_task(runtime.relay.run())
            topic = settings.kafka_topic_prefix + XAPI_STATEMENTS.name
            polls = _polls(topic, WARM_UP + POLLS)
            freeze_start_up_heap()  # as the service does once it started
            pids = {"bench": os.getpid()}
            groups = process_groups(pids, workdir)
            try:
                for number, records in enumerate(polls):
                    if number == WARM_UP:
                        await reached.wait()
                        reached.clear()
                        awaited = len(polls) * EVENTS_PER_POLL
                        await asyncio.sleep(GAP)
                        before = cpu_seconds(pids, groups)
                        counted_before = dict(counts)
                        started = time.perf_counter()
                    await runtime.consumer.dispatch_batch(records)
                    await asyncio.sleep(GAP)
                await reached.wait()
                elapsed = time.perf_counter() - started
                after = cpu_seconds(pids, groups)
            finally:
                runtime.relay.stop()
                await relay
                await runtime.db.dispose()
                await runtime.redis.aclose()
            statements = POLLS * EVENTS_PER_POLL * STATEMENTS_PER_EVENT
            per = {k: (after[k] - before[k]) * 1e6 / statements for k in ("bench", "postgres")}
            redis = (after.get("redis", 0) - before.get("redis", 0)) * 1e6 / statements
            sql = (counts["statements"] - counted_before["statements"]) / POLLS
            transactions = (counts["transactions"] - counted_before["transactions"]) / POLLS
            print(
                f"{POLLS} polls of {EVENTS_PER_POLL} events x {STATEMENTS_PER_EVENT} statements,"
                f" {GAP * 1000:.0f} ms apart, in {elapsed:.1f} s: CPU microseconds per"
                f" statement: ingest {per['bench']:.1f}, postgres {per['postgres']:.1f},"
                f" redis {redis:.1f}; per poll: {sql:.2f} SQL statements,"
                f" {transactions:.2f} transactions"
            )
        finally:
            infra.stop()


if __name__ == "__main__":
    uvloop.run(main())  # the service's loop (uvicorn picks uvloop)

"""Notification throughput: events in -> in-app row stored and live message delivered.

Starts its own infrastructure (environment URLs or embedded), a development
SMTP sink and the notifier on loopback, then publishes `submission.scored`
events for a set of users to the broker and measures until every in-app row
exists and every live (`notification`) message arrived on Redis pub/sub, the
path the gateway relays as SSE. E-mails go through the e-mail outbox to the
sink and are reported separately. Bounded in count and time.

Usage: python bench/bench_notifications.py [events] [users] [timeout-seconds]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as redis
from podium_contracts.events import ScoredData, SubmissionScored, UserData, UserRegistered
from podium_notifier.app import build_app, create_service
from podium_notifier.config import Settings
from podium_notifier.devsink import DevMailSink
from podium_notifier.models import emails, notifications, users
from podium_runtime.outbox import new_event
from podium_runtime.ports import free_port
from podium_runtime.testing import TestInfrastructure, serve
from sqlalchemy import func, select

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
USERS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
TIMEOUT = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0


def scored(user_id: uuid.UUID, competition_id: uuid.UUID) -> SubmissionScored:
    now = datetime.now(UTC)
    event = new_event(
        SubmissionScored,
        "bench",
        ScoredData(
            submission_id=uuid.uuid4(),
            competition_id=competition_id,
            user_id=user_id,
            metric="accuracy",
            higher_is_better=True,
            public_score=0.9,
            private_score=0.9,
            submitted_at=now,
            scored_at=now,
        ),
    )
    assert isinstance(event, SubmissionScored)
    return event


async def count(service: object, table: object, **where: object) -> int:
    runtime = service.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for column, value in where.items():
            query = query.where(table.c[column] == value)  # type: ignore[attr-defined]
        return int(await session.scalar(query) or 0)


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="podium-bench-notify-"))
    infra = await TestInfrastructure.start(workdir)
    sink = DevMailSink(workdir / "mails", port=free_port())
    sink.start()
    try:
        await infra.migrate("notifier")
        settings = infra.settings(
            Settings, smtp_port=sink.port, scheduler_enabled=False, db_pool_size=10
        )
        service = create_service(settings)
        async with serve(build_app(service)):
            people = [
                UserData(
                    user_id=uuid.uuid4(),
                    email=f"bench{i}@example.org",
                    display_name=f"Bench {i}",
                    timezone="UTC",
                )
                for i in range(USERS)
            ]
            publisher = service.runtime.publisher
            await publisher.publish(*[new_event(UserRegistered, "bench", u) for u in people])
            deadline = time.monotonic() + 60
            while await count(service, users) < USERS:
                if time.monotonic() > deadline:
                    raise TimeoutError("users not projected")
                await asyncio.sleep(0.1)

            listener = redis.from_url(settings.redis_url)
            pubsub = listener.pubsub()
            await pubsub.psubscribe("podium:live:*")
            sent_at: dict[str, float] = {}
            latencies: list[float] = []
            competitions = [uuid.uuid4() for _ in range(12)]
            events = [
                scored(people[i % USERS].user_id, competitions[i % len(competitions)])
                for i in range(EVENTS)
            ]

            async def receive() -> None:
                while len(latencies) < EVENTS:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                    if message is None:
                        continue
                    payload = json.loads(message["data"])
                    if payload["event"] != "notification":
                        continue
                    key = payload["data"]["data"]["submission_id"]
                    if key in sent_at:
                        latencies.append(time.perf_counter() - sent_at.pop(key))

            receiver = asyncio.create_task(receive())
            started = time.perf_counter()
            for chunk in range(0, EVENTS, 100):
                batch = events[chunk : chunk + 100]
                now = time.perf_counter()
                for event in batch:
                    sent_at[str(event.data.submission_id)] = now
                await publisher.publish(*batch)
            published = time.perf_counter() - started
            try:
                await asyncio.wait_for(receiver, TIMEOUT)
            except TimeoutError:
                print(f"timed out: {len(latencies)}/{EVENTS} live messages", file=sys.stderr)
            live_done = time.perf_counter() - started
            stored = await count(service, notifications)
            mail_deadline = time.monotonic() + TIMEOUT
            while await count(service, emails, status="sent") < EVENTS + 0:
                if time.monotonic() > mail_deadline:
                    break
                await asyncio.sleep(0.2)
            mails_done = time.perf_counter() - started
            mails_sent = await count(service, emails, status="sent")
            await pubsub.aclose()
            await listener.aclose()

        ordered = sorted(latencies) or [float("nan")]

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        rows = [
            ("events published", f"{EVENTS}", f"{EVENTS / published:,.0f}/s"),
            ("in-app rows stored", f"{stored}", ""),
            (
                "live messages delivered",
                f"{len(latencies)}",
                f"{len(latencies) / live_done:,.0f}/s",
            ),
            ("e-mails handed to SMTP", f"{mails_sent}", f"{mails_sent / mails_done:,.0f}/s"),
            ("latency p50 (event -> live)", f"{pct(0.50):,.1f} ms", ""),
            ("latency p95", f"{pct(0.95):,.1f} ms", ""),
            ("latency max", f"{max(ordered) * 1000:,.1f} ms", ""),
            ("latency mean", f"{statistics.fmean(ordered) * 1000:,.1f} ms", ""),
        ]
        print(f"\nnotifier: {EVENTS} submission.scored events for {USERS} users (loopback)")
        print(f"{'measure':<30}{'value':>14}{'rate':>14}")
        for name, value, rate in rows:
            print(f"{name:<30}{value:>14}{rate:>14}")
    finally:
        sink.stop()
        infra.stop()


if __name__ == "__main__":
    asyncio.run(main())

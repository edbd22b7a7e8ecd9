"""Steady traffic for the fault suite: submissions, joins and xAPI statements, and their judges.

Each kind of traffic runs as its own loop and books what it sends into the
`Tally` of the fault window that is open at the time. After a window, the
judges await every acknowledged request of that window:

- submission: acknowledged (202), then `scored`; lost if unknown or rejected
  although valid, stuck if still `queued` once everything recovered;
- join: acknowledged (202 with a request id), then decided exactly once; lost
  if the enrollment is unknown, stuck if still `pending`, duplicated if more
  than one decision event carries its request id;
- statement: acknowledged (200 with its id), then retrievable by id and listed
  exactly once for its actor, and counted exactly once in the points of the
  activity competition its actor takes part in (each window has a learner of
  its own, so the board says what the window earned).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from platform_support.stack import User
from podium_contracts.topics import ENROLLMENTS, Topic
from podium_runtime.testing import eventually
from submissions_support.stack import PredictionStack

KINDS = ("submissions", "joins", "statements")
XAPI_VERSION = {"X-Experience-API-Version": "1.0.3"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
LESSONS = "https://lessons.example/faults/"
POINTS = 10.0
#: Seconds every judge waits for the acknowledged work of a window to settle.
SETTLE_SECONDS = 180.0


@dataclass
class Count:
    """One kind of traffic in one fault window."""

    sent: int = 0
    #: What identifies each acknowledged request, with whoever sent it.
    acknowledged: list[tuple[str, Any]] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    #: Acknowledged requests the judge saw settle.
    settled: set[str] = field(default_factory=set)


@dataclass
class Tally:
    """What one fault window saw, per kind of traffic."""

    fault: str
    #: The learner whose statements this window sends (points are judged per learner).
    learner: User | None = None
    kinds: dict[str, Count] = field(default_factory=lambda: {k: Count() for k in KINDS})

    def clean(self) -> bool:
        """Tell whether nothing was lost, duplicated or stuck."""
        return all(c.lost == 0 and c.duplicated == 0 and c.stuck == 0 for c in self.kinds.values())


def account(user: User, platform: str) -> dict[str, Any]:
    """The xAPI actor of a Podium user: an account on the platform (SPEC §7.3)."""
    return {"objectType": "Agent", "account": {"homePage": platform, "name": user.user_id}}


@dataclass
class Traffic:
    """The three loops; `current` is the window their requests count in (None: not counted)."""

    stack: PredictionStack
    competition_id: str
    players: list[User]
    good: bytes
    #: (competition id, user) pairs not asked yet, consumed one per join.
    joins: list[tuple[str, User]]
    lrs_auth: dict[str, str]
    platform: str
    current: Tally | None = None

    async def _loop(self, interval: float, send: Callable[[Tally, int], Awaitable[None]]) -> None:
        turn = 0
        while True:
            tally = self.current
            if tally is not None:
                await send(tally, turn)
                turn += 1
            await asyncio.sleep(interval)

    async def _submit(self, tally: Tally, turn: int) -> None:
        count = tally.kinds["submissions"]
        player = self.players[turn % len(self.players)]
        count.sent += 1
        try:
            answer = await self.stack.submit(self.competition_id, player, self.good)
        except httpx.HTTPError:
            return
        if answer.status_code == 202:
            count.acknowledged.append((answer.json()["id"], player))

    async def _join(self, tally: Tally, _turn: int) -> None:
        if not self.joins:
            return
        count = tally.kinds["joins"]
        competition_id, user = self.joins.pop()
        count.sent += 1
        try:
            answer = await self.stack.http.post(
                f"/v1/competitions/{competition_id}/join", headers=user.auth
            )
        except httpx.HTTPError:
            return
        if answer.status_code == 202:
            count.acknowledged.append((answer.json()["request_id"], (competition_id, user)))

    async def _state(self, tally: Tally, _turn: int) -> None:
        assert tally.learner is not None
        count = tally.kinds["statements"]
        statement = {
            "actor": account(tally.learner, self.platform),
            "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
            "object": {"objectType": "Activity", "id": LESSONS + uuid.uuid4().hex},
            "timestamp": datetime.now(UTC).isoformat(),
        }
        count.sent += 1
        try:
            answer = await self.stack.http.post(
                "/xapi/statements", json=statement, headers={**self.lrs_auth, **XAPI_VERSION}
            )
        except httpx.HTTPError:
            return
        if answer.status_code == 200:
            (statement_id,) = answer.json()
            count.acknowledged.append((statement_id, tally.learner))

    def start(self) -> list[asyncio.Task[None]]:
        """Start the three loops (cancel the tasks to stop them)."""
        return [
            asyncio.create_task(self._loop(0.25, self._submit)),
            asyncio.create_task(self._loop(1.0, self._join)),
            asyncio.create_task(self._loop(0.4, self._state)),
        ]


async def _settle(
    pending: dict[str, Any], step: Callable[[str, Any], Awaitable[bool]], what: str
) -> None:
    """Await until `step` settled every pending item (it returns True for a settled one)."""

    async def settled() -> bool:
        for key, who in list(pending.items()):
            if await step(key, who):
                del pending[key]
        return not pending

    try:
        await eventually(settled, timeout=SETTLE_SECONDS, interval=1.0, message=what)
    except AssertionError:
        pass  # what is left is judged by the caller


async def judge_submissions(stack: PredictionStack, count: Count, expect: str = "scored") -> None:
    """Await every acknowledged submission; count the lost and the stuck."""
    pending = dict(count.acknowledged)

    async def step(submission_id: str, player: User) -> bool:
        got = await stack.http.get(f"/v1/submissions/{submission_id}", headers=player.auth)
        if got.status_code != 200 or got.json()["status"] == "queued":
            return False
        if got.json()["status"] != expect:
            count.lost += 1
        return True

    await _settle(pending, step, "submissions settled")
    for submission_id, player in pending.items():
        got = await stack.http.get(f"/v1/submissions/{submission_id}", headers=player.auth)
        if got.status_code == 404:
            count.lost += 1
        else:
            count.stuck += 1


async def judge_joins(stack: PredictionStack, count: Count) -> None:
    """Await a decision for every acknowledged join; count the lost and the stuck."""
    pending = dict(count.acknowledged)

    async def step(request_id: str, pair: tuple[str, User]) -> bool:
        competition_id, user = pair
        got = await stack.http.get(
            f"/v1/competitions/{competition_id}/enrollment", headers=user.auth
        )
        if got.status_code == 200 and got.json()["status"] in ("accepted", "rejected"):
            count.settled.add(request_id)
            return True
        return False

    await _settle(pending, step, "joins decided")
    for competition_id, user in pending.values():
        got = await stack.http.get(
            f"/v1/competitions/{competition_id}/enrollment", headers=user.auth
        )
        if got.status_code == 404:
            count.lost += 1
        else:
            count.stuck += 1


async def judge_statements(stack: PredictionStack, count: Count, lrs_auth: dict[str, str]) -> None:
    """Await every acknowledged statement by id; count those never retrievable as lost."""
    pending = dict(count.acknowledged)
    headers = {**lrs_auth, **XAPI_VERSION}

    async def step(statement_id: str, _learner: User) -> bool:
        got = await stack.http.get(
            "/xapi/statements", params={"statementId": statement_id}, headers=headers
        )
        return got.status_code == 200 and got.json().get("id") == statement_id

    await _settle(pending, step, "statements stored")
    count.lost += len(pending)


async def listed_statements(
    stack: PredictionStack, learner: User, lrs_auth: dict[str, str], platform: str
) -> Counter[str]:
    """How often each statement id of `learner` appears in the LRS's listing (every page)."""
    headers = {**lrs_auth, **XAPI_VERSION}
    seen: Counter[str] = Counter()
    url = "/xapi/statements"
    params: dict[str, Any] | None = {
        "agent": json.dumps(account(learner, platform)),
        "limit": 500,
    }
    for _ in range(100):
        got = await stack.http.get(url, params=params, headers=headers)
        assert got.status_code == 200, got.text
        body = got.json()
        seen.update(s["id"] for s in body["statements"])
        if not body.get("more"):
            break
        url, params = body["more"], None
    return seen


async def judge_statement_duplicates_and_points(
    stack: PredictionStack,
    tallies: list[Tally],
    activity_id: str,
    lrs_auth: dict[str, str],
    platform: str,
) -> None:
    """Each acknowledged statement is listed once and earns its points once (per window)."""
    for tally in tallies:
        count = tally.kinds["statements"]
        if tally.learner is None or not count.acknowledged:
            continue
        listed = await listed_statements(stack, tally.learner, lrs_auth, platform)
        count.duplicated += sum(max(listed[i] - 1, 0) for i, _ in count.acknowledged)

    expected = {
        t.learner.user_id: POINTS * len(t.kinds["statements"].acknowledged)
        for t in tallies
        if t.learner is not None
    }

    async def board() -> dict[str, float]:
        got = await stack.http.get(
            f"/v1/competitions/{activity_id}/leaderboard", params={"limit": 100}
        )
        assert got.status_code == 200, got.text
        return {e["user_id"]: float(e["score"]) for e in got.json()["entries"]}

    async def reached() -> bool:
        got = await board()
        return all(got.get(user, 0.0) == points for user, points in expected.items() if points)

    try:
        await eventually(reached, timeout=SETTLE_SECONDS, interval=1.0, message="points counted")
    except AssertionError:
        pass
    got = await board()
    for tally in tallies:
        if tally.learner is None:
            continue
        count = tally.kinds["statements"]
        earned = got.get(tally.learner.user_id, 0.0)
        want = POINTS * len(count.acknowledged)
        if earned > want:
            count.duplicated += round((earned - want) / POINTS)
        elif earned < want:
            count.stuck += round((want - earned) / POINTS)


async def read_topic(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record of `topic` from its beginning to its current end (no consumer group)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await producer.partitions_for(topic)]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            for tp in partitions:
                if await consumer.position(tp) < ends[tp]:
                    return True
            return False

        while await behind():
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for batch in batches.values():
                records += batch
    finally:
        await consumer.stop()
    return records


async def decision_events(bootstrap_servers: str, topic_prefix: str) -> Counter[str]:
    """Count the distinct enrollment decisions per join request id on the enrollments topic."""
    decisions: dict[str, set[str]] = {}
    for record in await read_topic(bootstrap_servers, topic_prefix + ENROLLMENTS.name):
        try:
            event = json.loads(record.value or b"")
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("type") not in (
            "enrollment.accepted",
            "enrollment.rejected",
        ):
            continue
        request_id = (event.get("data") or {}).get("request_id")
        if request_id:
            decisions.setdefault(str(request_id), set()).add(str(event.get("id")))
    return Counter({request_id: len(ids) for request_id, ids in decisions.items()})


async def dead_lettered(
    bootstrap_servers: str, topic_prefix: str, topics: list[Topic], key: bytes
) -> dict[str, Counter[str]]:
    """Per topic, how many records keyed `key` each consumer moved to its dead-letter topic.

    Counted by original offset: a record dead-lettered twice (redelivered) counts once.
    """
    found: dict[str, Counter[str]] = {}
    for topic in topics:
        offsets: dict[str, set[str]] = {}
        for record in await read_topic(bootstrap_servers, topic_prefix + topic.dead_letter):
            if record.key == key:
                headers = {k: v.decode() for k, v in record.headers or []}
                original = headers.get("x-original-partition", "") + ":"
                original += headers.get("x-original-offset", "")
                offsets.setdefault(headers.get("x-consumer", "?"), set()).add(original)
        found[topic.name] = Counter({who: len(seen) for who, seen in offsets.items()})
    return found


def judge_join_duplicates(tallies: list[Tally], decisions: Counter[str]) -> None:
    """A join request decided more than once counts as duplicated; never decided, as lost."""
    for tally in tallies:
        count = tally.kinds["joins"]
        for request_id, _ in count.acknowledged:
            seen = decisions.get(request_id, 0)
            count.duplicated += max(seen - 1, 0)
            if seen == 0 and request_id in count.settled:
                count.lost += 1  # decided, but the decision never reached the topic


def table(tallies: list[Tally]) -> str:
    """The printed table: one row per fault and kind of traffic."""
    width = max(len(t.fault) for t in tallies)
    lines = [
        f"{'fault':<{width}}  {'traffic':<11}  sent  acknowledged  lost  duplicated  stuck",
    ]
    for t in tallies:
        for kind, c in t.kinds.items():
            if not c.sent:
                continue
            lines.append(
                f"{t.fault:<{width}}  {kind:<11}  {c.sent:>4}  {len(c.acknowledged):>12}  "
                f"{c.lost:>4}  {c.duplicated:>10}  {c.stuck:>5}"
            )
    return "\n".join(lines)
